package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a loopback port to a target, and can
// be cut and restored on the same port, so that a test can take a real
// service away from the code under test without stopping it for others.
type Proxy struct {
	t      testing.TB
	target string
	Addr   string

	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]struct{}
}

// NewProxy starts a proxy to target and stops it when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()

	p := &Proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("start proxy to %s: %v", target, err)
	}

	p.Addr = listener.Addr().String()
	p.serve(listener)
	t.Cleanup(p.Cut)

	return p
}

// Cut closes the listening socket and every forwarded connection.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.listener != nil {
		_ = p.listener.Close()
		p.listener = nil
	}

	for conn := range p.conns {
		_ = conn.Close()
	}

	clear(p.conns)
}

// Restore listens again on the same address.
func (p *Proxy) Restore() {
	p.t.Helper()

	listener, err := net.Listen("tcp", p.Addr)
	if err != nil {
		p.t.Fatalf("restore proxy on %s: %v", p.Addr, err)
	}

	p.serve(listener)
}

func (p *Proxy) serve(listener net.Listener) {
	p.mu.Lock()
	p.listener = listener
	p.mu.Unlock()

	go func() {
		for {
			client, err := listener.Accept()
			if err != nil {
				return
			}

			go p.forward(client)
		}
	}()
}

func (p *Proxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()

		return
	}

	if !p.track(client, server) {
		return
	}

	go func() {
		_, _ = io.Copy(server, client)
		_ = server.Close()
	}()

	_, _ = io.Copy(client, server)
	_ = client.Close()
}

// track registers both ends of a forwarded connection, or closes them when
// the proxy was cut while the connection was being set up.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.listener == nil {
		for _, conn := range conns {
			_ = conn.Close()
		}

		return false
	}

	for _, conn := range conns {
		p.conns[conn] = struct{}{}
	}

	return true
}

// SilentServer listens on a loopback port, accepts connections and never
// replies, like a firewall that swallows traffic or a service of another
// protocol on the port. It returns the host:port.
func SilentServer(t testing.TB) string {
	t.Helper()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for the silent server: %v", err)
	}

	t.Cleanup(func() { _ = listener.Close() })

	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}

			t.Cleanup(func() { _ = conn.Close() })
		}
	}()

	return listener.Addr().String()
}
