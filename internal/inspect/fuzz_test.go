package inspect

import (
	"testing"
	"time"
)

// FuzzDecodeRecording feeds arbitrary bytes in both directions to the
// decoder of a recorded connection: it must never panic, and every record
// it lists must come from the input.
func FuzzDecodeRecording(f *testing.F) {
	f.Fuzz(func(t *testing.T, client, server []byte, split uint8) {
		// Deliver each direction in two chunks, interleaved, as a tap would.
		cut := func(b []byte) ([]byte, []byte) {
			n := int(split) % (len(b) + 1)
			return b[:n], b[n:]
		}
		c1, c2 := cut(client)
		s1, s2 := cut(server)
		var chunks []chunk
		for i, c := range []chunk{{ClientToServer, 1, c1}, {ServerToClient, 2, s1}, {ClientToServer, 3, c2}, {ServerToClient, 4, s2}} {
			if len(c.data) > 0 {
				c.at = time.Duration(i) * time.Millisecond
				chunks = append(chunks, c)
			}
		}
		d := decodeRecording(chunks)
		total := 0
		for _, r := range d.records {
			total += r.Length
		}
		if total > len(client)+len(server) {
			t.Fatalf("records hold %d bytes, input had %d", total, len(client)+len(server))
		}
		for _, tls13 := range []bool{false, true} {
			finishedInfo(d.records, tls13)
		}
		tr := &Trace{Target: &Target{}}
		tr.fillHellos(d)
	})
}
