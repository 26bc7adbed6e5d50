// Command policygen writes the admission policies of config/policy that are generated rather than
// written by hand: access_bind.yaml, whose per-entry bind checks are unrolled into one validation
// per slot because CEL allows only two authorizer checks per expression (each costs 350,000 of the
// 1,000,000 per-call limit). `make manifests` runs it.
package main

import (
	_ "embed"
	"flag"
	"log"
	"os"
	"text/template"
)

// Slots is how many new access entries one change may add unless the requester may bind every
// ClusterRole and Role: one authorizer check each, within the 10,000,000 a policy may spend.
const Slots = 16

//go:embed access_bind.yaml.tmpl
var accessBind string

func main() {
	out := flag.String("out", "config/policy/access_bind.yaml", "the file to write")
	flag.Parse()
	tmpl := template.Must(template.New("access-bind").Parse(accessBind))
	indexes := make([]int, Slots)
	for i := range indexes {
		indexes[i] = i
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	if err := tmpl.Execute(f, struct {
		Slots   int
		Indexes []int
	}{Slots, indexes}); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
