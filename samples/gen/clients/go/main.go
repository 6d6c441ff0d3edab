// A wss:// client on gorilla/websocket, for wsclose's Go ClientHello sample. It trusts only
// the test CA, writes its TLS secrets to $SSLKEYLOGFILE when that is set, sends one text
// message, reads the echo, closes with 1000 "done" and prints one JSON line with what the
// library handed back.
//
// Usage: hello-go URL CA_PEM
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/gorilla/websocket"
)

type reported struct {
	Code       *int    `json:"code"`
	Reason     *string `json:"reason"`
	WasClean   *bool   `json:"was_clean"`
	ErrorEvent *bool   `json:"error_event"`
	Error      *string `json:"error"`
}

func version() string {
	v := "?"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/gorilla/websocket" {
				v = dep.Version
				if dep.Replace != nil {
					v += " (Debian package)"
				}
			}
		}
	}
	return fmt.Sprintf("gorilla/websocket %s (%s crypto/tls)", v, runtime.Version())
}

func run(url, ca string) reported {
	var r reported
	fail := func(err error) reported {
		s := err.Error()
		r.Error = &s
		return r
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return fail(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	config := &tls.Config{RootCAs: roots}
	if path := os.Getenv("SSLKEYLOGFILE"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		config.KeyLogWriter = f
	}
	dialer := websocket.Dialer{TLSClientConfig: config, HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.Dial(url, nil)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		return fail(err)
	}
	if _, _, err := conn.ReadMessage(); err != nil {
		return fail(err)
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done")
	if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		return fail(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = conn.ReadMessage()
	var closeErr *websocket.CloseError
	if errors.As(err, &closeErr) {
		r.Code, r.Reason = &closeErr.Code, &closeErr.Text
		return r
	}
	return fail(err)
}

func main() {
	out, _ := json.Marshal(map[string]interface{}{"client": version(), "reported": run(os.Args[1], os.Args[2])})
	fmt.Println(string(out))
}
