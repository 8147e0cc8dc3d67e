// Package wire decodes and encodes the cleartext part of TLS: the record
// layer, the handshake messages that travel before encryption starts, alerts,
// and the SSLv2 hellos that old servers still answer.
//
// It does no cryptography and keeps no connection state beyond what is needed
// to split a byte stream into records and messages. It exists so that tlsgate
// can show what a handshake looked like on the wire (inspect) and build the
// arbitrary hellos a server audit needs (scan); real connections always go
// through crypto/tls.
//
// Every decoder returns an error on malformed input and never panics. Every
// message type has its Marshal and its Parse function side by side, and
// extensions are kept in wire order, unknown ones as raw bytes, so that
// Parse(Marshal(m)) and Marshal(Parse(b)) give back what went in. The
// extension builders (ServerNameExtension, ALPNExtension, ...) panic only
// when handed a value too long for its length field, a programming error;
// message Marshal methods return an error instead.
package wire
