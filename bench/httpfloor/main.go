// Httpfloor is the ceiling HTTP allows on a machine, for comparing
// embquery serve against: a minimal net/http server that reads each request
// body and answers it with a fixed body of --size bytes. bench/serve.sh runs
// it beside embquery serve, with the same load.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address: HOST:PORT, or unix:PATH for a unix socket")
	size := flag.Int("size", 1024, "response body bytes")
	flag.Parse()
	body := make([]byte, *size)
	length := strconv.Itoa(*size)
	network, address := "tcp", *addr
	if path, ok := strings.CutPrefix(*addr, "unix:"); ok {
		network, address = "unix", path
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpfloor:", err)
		os.Exit(1)
	}
	if network == "unix" {
		fmt.Printf("listening on unix:%s\n", address)
	} else {
		fmt.Printf("listening on %s\n", ln.Addr())
	}
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", length)
		w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "httpfloor:", err)
	os.Exit(1)
}
