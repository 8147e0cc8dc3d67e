package tunnel

import "testing"

// FuzzRecordTracker feeds the record tracker any bytes a peer could send,
// in pieces of any size: it never panics, always makes progress, and finds
// the same record boundaries however the stream is cut.
func FuzzRecordTracker(f *testing.F) {
	f.Add([]byte{23, 3, 3, 0, 2, 'h', 'i', 21, 3, 3, 0, 0}, uint8(3))
	f.Add([]byte{22, 3, 1, 0xff, 0xff}, uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, piece uint8) {
		boundaries := func(size int) []int {
			var r recordTracker
			var at []int
			for off := 0; off < len(stream); {
				avail := stream[off:min(len(stream), off+size)]
				n := r.limit(avail)
				if n < 1 || n > len(avail) {
					t.Fatalf("limit %d for %d available bytes at offset %d", n, len(avail), off)
				}
				r.consumed(avail[:n])
				off += n
				if r.headerN == 0 {
					at = append(at, off)
				}
			}
			return at
		}
		whole := boundaries(len(stream) + 1)
		cut := boundaries(int(piece) + 1)
		if len(whole) != len(cut) {
			t.Fatalf("boundaries %v in one piece, %v in pieces of %d", whole, cut, int(piece)+1)
		}
		for i := range whole {
			if whole[i] != cut[i] {
				t.Fatalf("boundaries %v in one piece, %v in pieces of %d", whole, cut, int(piece)+1)
			}
		}
	})
}
