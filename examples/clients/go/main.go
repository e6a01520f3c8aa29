// An isopool client in Go, on NNG through cgo.
//
// Sends one call job (double.js with 21) and one eval job (a module's text)
// to an isopool service and prints each value as JSON, one a line:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o isopool-client .
//	./isopool-client [URL [TIMEOUT_MS]]
//
// URL defaults to tcp://127.0.0.1:7447, TIMEOUT_MS (each job's deadline)
// to 10000.
//
// The wire protocol is docs/protocol.md: a msgpack map over an NNG REQ0
// socket, one request and one reply per message. The usual pure-Go binding
// is mangos (go.nanomsg.org/mangos/v3, its req protocol with
// OptionRetryTime 0); this file calls Debian's libnng (libnng-dev) through
// cgo instead, and ugorji's codec (golang-github-ugorji-go-codec-dev) for
// msgpack, so that it builds from Debian packages with no module proxy.
//
// Resend is turned off before anything is sent: a REQ socket sends a
// request again when it has had no reply for 60 s (and after a reconnect),
// and an isopool job is not idempotent: it would run twice.
package main

/*
#cgo LDFLAGS: -lnng
#include <stdlib.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/ugorji/go/codec"
)

// maxReply is the service's default --max-message.
const maxReply = 16 << 20

// replyMarginMs is how much longer than a job's deadline to wait for its
// reply: the service answers a job past its deadline with the error
// timeout, and that answer should be the one the caller sees, not NNG's.
const replyMarginMs = 1000

var mh = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true    // strings as msgpack str, not raw bytes
	h.RawToString = true // and read back as Go strings
	h.MapType = reflect.TypeOf(map[string]interface{}(nil))
	return h
}()

// NngError is a failed call into NNG: no connection, no reply in time, ...
type NngError struct {
	Op   string
	Code C.int
}

func (e *NngError) Error() string {
	return e.Op + ": " + C.GoString(C.nng_strerror(e.Code))
}

func check(rv C.int, op string) error {
	if rv != 0 {
		return &NngError{op, rv}
	}
	return nil
}

// JobRejected is what the job's JavaScript threw.
type JobRejected struct {
	Name, Message, Stack string
}

func (e *JobRejected) Error() string { return e.Name + ": " + e.Message }

// JobError says why the service did not run the job to its end
// (docs/protocol.md, "Errors").
type JobError struct {
	Code, Message string
}

func (e *JobError) Error() string { return e.Code + ": " + e.Message }

type request struct {
	V         int           `codec:"v"`
	ID        uint64        `codec:"id"`
	Kind      string        `codec:"kind"`
	Module    string        `codec:"module,omitempty"`
	Source    string        `codec:"source,omitempty"`
	Export    string        `codec:"export,omitempty"`
	Args      []interface{} `codec:"args"`
	TimeoutMs int64         `codec:"timeout_ms"`
}

type reply struct {
	Status string            `codec:"status"`
	Value  codec.Raw         `codec:"value"`
	Error  map[string]string `codec:"error"`
}

// Client is one REQ socket dialed to a service; one job at a time (a
// Client is not safe for concurrent use: NNG contexts are the way to have
// several jobs in flight).
type Client struct {
	sock      C.nng_socket
	nextID    uint64
	TimeoutMs int64
}

// Dial opens a REQ socket with resend off and dials url.
func Dial(url string, timeoutMs int64) (*Client, error) {
	c := &Client{nextID: 1, TimeoutMs: timeoutMs}
	if err := check(C.nng_req0_open(&c.sock), "nng_req0_open"); err != nil {
		return nil, err
	}
	setMs := func(opt string, ms C.nng_duration) error {
		name := C.CString(opt)
		defer C.free(unsafe.Pointer(name))
		return check(C.nng_socket_set_ms(c.sock, name, ms), opt)
	}
	err := setMs("req:resend-time", C.NNG_DURATION_INFINITE)
	if err == nil {
		err = setMs("recv-timeout", C.nng_duration(timeoutMs+replyMarginMs))
	}
	if err == nil {
		name := C.CString("recv-size-max")
		defer C.free(unsafe.Pointer(name))
		err = check(C.nng_socket_set_size(c.sock, name, maxReply), "recv-size-max")
	}
	if err == nil {
		curl := C.CString(url)
		defer C.free(unsafe.Pointer(curl))
		// flags 0: a synchronous dial, so a wrong URL fails here
		err = check(C.nng_dial(c.sock, curl, nil, 0), "dial "+url)
	}
	if err != nil {
		C.nng_close(c.sock)
		return nil, err
	}
	return c, nil
}

// Close closes the socket.
func (c *Client) Close() { C.nng_close(c.sock) }

// job sends req and decodes the value of a fulfilled reply into out.
func (c *Client) job(req request, out interface{}) error {
	req.V, req.ID, req.TimeoutMs = 1, c.nextID, c.TimeoutMs
	c.nextID++
	if req.Args == nil {
		req.Args = []interface{}{}
	}
	var body []byte
	if err := codec.NewEncoderBytes(&body, mh).Encode(req); err != nil {
		return err
	}
	cbody := C.CBytes(body)
	defer C.free(cbody)
	if err := check(C.nng_send(c.sock, cbody, C.size_t(len(body)), 0),
		"nng_send"); err != nil {
		return err
	}
	var buf unsafe.Pointer
	var size C.size_t
	if err := check(C.nng_recv(c.sock, unsafe.Pointer(&buf), &size,
		C.NNG_FLAG_ALLOC), "nng_recv"); err != nil {
		return err
	}
	data := C.GoBytes(buf, C.int(size))
	C.nng_free(buf, size)
	var rep reply
	if err := codec.NewDecoderBytes(data, mh).Decode(&rep); err != nil {
		return err
	}
	switch rep.Status {
	case "fulfilled":
		return codec.NewDecoderBytes(rep.Value, mh).Decode(out)
	case "rejected":
		return &JobRejected{rep.Error["name"], rep.Error["message"],
			rep.Error["stack"]}
	default:
		return &JobError{rep.Error["code"], rep.Error["message"]}
	}
}

// Call calls the default export of module (a file under the service's
// --modules) with args, and decodes its value into out.
func (c *Client) Call(module string, args []interface{}, out interface{}) error {
	return c.job(request{Kind: "call", Module: module, Args: args}, out)
}

// Eval evaluates source (a module's text): its default export, called with
// args when it is a function; its value is decoded into out.
func (c *Client) Eval(source string, args []interface{}, out interface{}) error {
	return c.job(request{Kind: "eval", Source: source, Args: args}, out)
}

// doubled is what examples/double.js returns.
type doubled struct {
	Input   int `codec:"input" json:"input"`
	Doubled int `codec:"doubled" json:"doubled"`
}

func run(url string, timeoutMs int64) error {
	c, err := Dial(url, timeoutMs)
	if err != nil {
		return err
	}
	defer c.Close()
	var d doubled
	if err := c.Call("double.js", []interface{}{21}, &d); err != nil {
		return err
	}
	js, _ := json.Marshal(d)
	fmt.Println(string(js))
	var sum int
	if err := c.Eval("export default (a, b) => a + b;",
		[]interface{}{2, 3}, &sum); err != nil {
		return err
	}
	fmt.Println(sum)
	return nil
}

func main() {
	url := "tcp://127.0.0.1:7447"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	timeoutMs := int64(10000)
	if len(os.Args) > 2 {
		n, err := strconv.ParseInt(os.Args[2], 10, 64)
		if err != nil || n <= 0 {
			fmt.Fprintln(os.Stderr, "isopool-client: TIMEOUT_MS must be a positive integer")
			os.Exit(2)
		}
		timeoutMs = n
	}
	if err := run(url, timeoutMs); err != nil {
		fmt.Fprintln(os.Stderr, "isopool-client:", err)
		os.Exit(1)
	}
}
