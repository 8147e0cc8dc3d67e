package inspect

import "testing"

// In TLS 1.3 only the server sends session tickets, so the client's
// encrypted records after its Finished are never labelled as one.
func TestTLS13RecordNotesByDirection(t *testing.T) {
	c, s := ClientToServer.String(), ServerToClient.String()
	recs := []RecordInfo{
		{Direction: c}, // ClientHello, in clear
		{Direction: s}, // ServerHello, in clear
		{Direction: s, Encrypted: true},
		{Direction: c, Encrypted: true},
		{Direction: s, Encrypted: true},
		{Direction: c, Encrypted: true},
	}
	noteTLS13(recs)
	want := []string{"", "",
		"encrypted handshake: EncryptedExtensions, Certificate, CertificateVerify, Finished",
		"encrypted handshake: the client's Finished",
		"application data (or a session ticket)",
		"application data (or an alert such as close_notify)",
	}
	for i, r := range recs {
		if r.Note != want[i] {
			t.Errorf("record %d (%s): note %q, want %q", i, r.Direction, r.Note, want[i])
		}
	}
}
