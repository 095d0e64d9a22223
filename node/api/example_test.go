package api_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"nrmnet/node"
	"nrmnet/node/api"
	"nrmnet/storage"
)

// Example composes a node's API as `nrmnet run` does: the store, the
// authority's application on it, and the API on that, served by an
// http.Server the caller owns.
func Example() {
	dir, err := os.MkdirTemp("", "nrmnet-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir, sc.Authority = filepath.Join(dir, "data"), filepath.Join(dir, "keys"), "ISL"
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		log.Fatal(err)
	}
	store, err := storage.Open(sc)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	nc := node.DefaultConfig() // statutory periods of current guidance, bank holidays built in
	nc.Store, nc.Authority = store, "ISL"
	n, err := node.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	ac := api.DefaultConfig()
	ac.Node = n
	handler, err := api.New(ac)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	_ = srv // srv.ListenAndServe() in a real node

	// The first administrator; `nrmnet init` does this and prints the token.
	admin, token, err := n.AddFirstAdministrator(context.Background(), "admin", "Node administrator")
	if err != nil {
		log.Fatal(err)
	}
	who, err := n.Authenticate(token)
	fmt.Println(admin.ID, who.Role, err)
	// Output:
	// admin administrator <nil>
}
