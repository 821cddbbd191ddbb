// boltwrite writes a bbolt database from a JSON tree read on stdin, for the scan tests' Trivy DB.
//
// The tree is {"bucket": {"sub-bucket": {...}, "key": "value"}}: an object is a bucket, a string a
// value (written as is). Usage: boltwrite OUT.db < tree.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

type bucketMaker interface {
	CreateBucketIfNotExists(name []byte) (*bolt.Bucket, error)
}

func fill(parent bucketMaker, tree map[string]json.RawMessage) error {
	for name, raw := range tree {
		var children map[string]json.RawMessage
		if err := json.Unmarshal(raw, &children); err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
		bucket, err := parent.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		nested := map[string]json.RawMessage{}
		for key, value := range children {
			var text string
			if json.Unmarshal(value, &text) == nil {
				if err := bucket.Put([]byte(key), []byte(text)); err != nil {
					return err
				}
			} else {
				nested[key] = value
			}
		}
		if err := fill(bucket, nested); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	var tree map[string]json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&tree); err != nil {
		fmt.Fprintln(os.Stderr, "boltwrite:", err)
		os.Exit(1)
	}
	db, err := bolt.Open(os.Args[1], 0o600, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "boltwrite:", err)
		os.Exit(1)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fill(tx, tree) }); err != nil {
		fmt.Fprintln(os.Stderr, "boltwrite:", err)
		os.Exit(1)
	}
}
