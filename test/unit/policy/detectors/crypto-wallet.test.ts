import { describe, expect, it } from 'vitest';

import { cryptoWalletDetector } from '../../../../src/policy/builtins/detectors/crypto-wallet.js';
import { matches } from './helpers.js';

describe('crypto wallet detector', () => {
  it.each([
    ['Bitcoin P2PKH (genesis block)', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'],
    ['Bitcoin P2SH', '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy'],
    ['Bech32 P2WPKH', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'],
    ['Bech32 P2WPKH upper case', 'BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ'],
    ['Bech32 P2WSH', 'bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3'],
    ['Bech32m P2TR', 'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297'],
    ['EIP-55 vector 1', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed'],
    ['EIP-55 vector 2', '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359'],
    ['EIP-55 vector 3', '0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB'],
    ['EIP-55 vector 4', '0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb'],
    ['Ethereum lower case', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed'],
  ])('finds %s', (_label, address) => {
    expect(matches(cryptoWalletDetector, `send to ${address}.`)).toEqual([address]);
  });

  it.each([
    ['a Base58 checksum error', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb'],
    ['a Bech32 checksum error', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp'],
    ['mixed-case Bech32', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzWf5mdq'],
    ['an EIP-55 case error', '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD'],
    ['a transaction hash', '0x88df016429689c079f3b2f6ad39fa052532c56795b733da78a91ebe6a713944b'],
    ['41 hex digits', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed1'],
    ['an identifier suffix', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed_v2'],
    ['glued to a word', 'x1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'],
  ])('does not report %s', (_label, text) => {
    expect(matches(cryptoWalletDetector, text)).toEqual([]);
  });
});
