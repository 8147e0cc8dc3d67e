// Package inspect traces one real TLS handshake, step by step, with the
// values that went over the wire, and says whether a verifying client would
// have accepted the server and why not.
//
// The connection goes through crypto/tls on a tapped net.Conn that records
// every byte in both directions with its timing; package wire decodes the
// cleartext part of that recording. The certificate chain is verified
// after the handshake, so that the trace completes even when verification
// fails; nothing is sent over a connection that did not verify.
package inspect
