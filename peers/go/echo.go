// echo — a framed echo server as a Go programmer writes it: net.Listen, one goroutine per
// connection, io.ReadFull of a 4-byte big-endian length (Erlang {packet,4}, encoding/binary),
// io.ReadFull of the payload, one Write of the frame, defer conn.Close(); the idle timeout with
// SetReadDeadline before each read (the net package's documented way). Not written for
// framespec: a peer to judge.
//
// Build: go build -o echo echo.go      (Debian golang-go)
// Run:   echo PORT [IDLE_SECONDS] [--fixed]
//
// --fixed applies what peers/go/README.md says a user should change: signal.Notify(SIGTERM), then
// close the listener, end every connection's read (SetReadDeadline(now)), CloseWrite (FIN after
// the echoes already written), read and discard until the peer's FIN (at most 2 s), exit 0.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const maxFrame = 16 << 20

var idle time.Duration
var fixed bool
var stopping atomic.Bool
var conns sync.Map
var wg sync.WaitGroup

func handle(c net.Conn) {
	defer c.Close()
	defer wg.Done()
	conns.Store(c, true)
	defer conns.Delete(c)
	r := bufio.NewReader(c)
	hdr := make([]byte, 4)
	for {
		if idle > 0 && !stopping.Load() {
			c.SetReadDeadline(time.Now().Add(idle))
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr)
		if n > maxFrame {
			return
		}
		frame := make([]byte, 4+int(n))
		copy(frame, hdr)
		if _, err := io.ReadFull(r, frame[4:]); err != nil {
			break
		}
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
	if stopping.Load() {
		// SIGTERM: every echo is written (Write is synchronous); FIN, then drain until the
		// peer's FIN so that close() does not meet unread input (RST)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, r)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: echo PORT [IDLE_SECONDS] [--fixed]")
		os.Exit(2)
	}
	for _, a := range os.Args[2:] {
		if a == "--fixed" {
			fixed = true
		} else if s, err := strconv.Atoi(a); err == nil {
			idle = time.Duration(s) * time.Second
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	if fixed {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		go func() {
			<-sigs
			stopping.Store(true)
			ln.Close()
			conns.Range(func(k, _ any) bool {
				k.(net.Conn).SetReadDeadline(time.Now())
				return true
			})
			wg.Wait()
			os.Exit(0)
		}()
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if stopping.Load() {
				select {} // the signal handler exits
			}
			continue
		}
		wg.Add(1)
		go handle(c)
	}
}
