package inspect

import (
	"net"
	"sync"
	"time"
)

// Direction says who sent bytes.
type Direction int

// Directions of a connection.
const (
	ClientToServer Direction = iota
	ServerToClient
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client_to_server"
	}
	return "server_to_client"
}

// arrow is the short form used in text output.
func (d Direction) arrow() string {
	if d == ClientToServer {
		return "client → server"
	}
	return "server → client"
}

// chunk is what one Read or Write moved.
type chunk struct {
	dir  Direction
	at   time.Duration // since the tap started
	data []byte
}

// maxRecorded bounds what a tap keeps, so that a server streaming a large
// body cannot fill memory; the handshake is far smaller.
const maxRecorded = 4 << 20

// tapConn records every byte that crosses a connection, with direction and
// time, as an eavesdropper on the path would see it.
type tapConn struct {
	net.Conn
	start time.Time

	mu        sync.Mutex
	chunks    []chunk
	recorded  int
	truncated bool
}

func newTap(c net.Conn, start time.Time) *tapConn { return &tapConn{Conn: c, start: start} }

func (c *tapConn) record(dir Direction, p []byte) {
	if len(p) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recorded+len(p) > maxRecorded {
		c.truncated = true
		return
	}
	c.recorded += len(p)
	c.chunks = append(c.chunks, chunk{dir: dir, at: time.Since(c.start), data: append([]byte(nil), p...)})
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.record(ServerToClient, p[:n])
	return n, err
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.record(ClientToServer, p[:n])
	return n, err
}

// snapshot returns the chunks recorded so far.
func (c *tapConn) snapshot() []chunk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]chunk(nil), c.chunks...)
}

// stream joins one direction's bytes and remembers at which time each byte
// offset arrived.
type stream struct {
	data   []byte
	starts []int           // offset where each chunk starts
	times  []time.Duration // time of each chunk
	seqs   []int           // position of each chunk among both directions
}

func splitStreams(chunks []chunk) (client, server *stream) {
	client, server = &stream{}, &stream{}
	for i, ch := range chunks {
		s := client
		if ch.dir == ServerToClient {
			s = server
		}
		s.starts = append(s.starts, len(s.data))
		s.times = append(s.times, ch.at)
		s.seqs = append(s.seqs, i)
		s.data = append(s.data, ch.data...)
	}
	return client, server
}

// chunkAt returns the index of the chunk holding the byte at offset off.
func (s *stream) chunkAt(off int) int {
	j := 0
	for i, st := range s.starts {
		if st > off {
			break
		}
		j = i
	}
	return j
}
