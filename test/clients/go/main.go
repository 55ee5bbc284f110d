// pinned-client calls enclave-gate from Go over TLS pinned to the key that
// `enclave-gate verify` attested, and prints the answer.
//
// The proxy's certificate is self-signed: trust comes from the evidence in
// it, which `enclave-gate verify https://HOST:PORT --json` checks. Its output
// names the certificate's key as ratls.pubkeyHash, "sha-384:<hex>" (SHA-384
// of the DER SubjectPublicKeyInfo). This client accepts a connection only
// when the server presents exactly that key, so it talks to the instance that
// was verified and to nothing else; after a certificate renewal (new key) it
// refuses until the verifier has run again.
//
//	go run . -url https://gate.example:8443/v1/models -pin sha-384:ab12…
//	go run . -url https://gate.example:8443/v1/chat/completions -pin sha-384:ab12… -data '{"messages":[…]}'
//
// Exit codes: 0 the server answered 2xx; 1 usage; 2 the server answered with
// an error status (the body is printed); 3 TLS or pin failure.
package main

import (
	"bytes"
	"crypto/sha512"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// pinnedTLS returns a TLS config that accepts exactly one server key.
// InsecureSkipVerify turns off the CA-chain check, which a self-signed
// RA-TLS certificate cannot pass; VerifyConnection then does the check that
// matters, on every handshake including resumed ones.
func pinnedTLS(pinHex string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			sum := sha512.Sum384(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
			if got := hex.EncodeToString(sum[:]); got != pinHex {
				return fmt.Errorf("pin mismatch: the server's key is sha-384:%s, not the verified one; run enclave-gate verify again", got)
			}
			return nil
		},
	}
}

func main() {
	url := flag.String("url", "", "https://HOST:PORT/path to call")
	pin := flag.String("pin", "", "ratls.pubkeyHash from enclave-gate verify --json (sha-384:<hex>)")
	data := flag.String("data", "", "JSON body to POST (GET when empty)")
	flag.Parse()
	pinHex, ok := strings.CutPrefix(*pin, "sha-384:")
	if *url == "" || !ok || len(pinHex) != 96 {
		fmt.Fprintln(os.Stderr, "usage: pinned-client -url https://HOST:PORT/path -pin sha-384:<96 hex digits> [-data JSON]")
		os.Exit(1)
	}

	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: pinnedTLS(strings.ToLower(pinHex)), ForceAttemptHTTP2: false},
	}
	method, body := http.MethodGet, io.Reader(nil)
	if *data != "" {
		method, body = http.MethodPost, bytes.NewBufferString(*data)
	}
	req, err := http.NewRequest(method, *url, body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *data != "" {
		req.Header.Set("content-type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Printf("%d %s\n%s\n", res.StatusCode, res.Header.Get("content-type"), answer)
	if res.StatusCode >= 300 {
		os.Exit(2)
	}
}
