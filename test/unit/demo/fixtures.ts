/** Shared transactions for the demo tests. */
import type { Transaction } from '../../../src/demo/transaction.js';

/** An ordinary purchase: groceries near home, card present, old account, daytime. */
export const SAFE: Transaction = {
  amount: 23.4,
  hour: 14,
  merchant_risk: 0.05,
  distance_km: 2,
  card_present: true,
  txn_count_24h: 1,
  account_age_days: 2400,
  foreign: false,
};

/** Everything wrong at once: big gift-card purchase abroad at 3 am on a new account. */
export const RISKY: Transaction = {
  amount: 2400,
  hour: 3,
  merchant_risk: 0.85,
  distance_km: 900,
  card_present: false,
  txn_count_24h: 7,
  account_age_days: 10,
  foreign: true,
};
