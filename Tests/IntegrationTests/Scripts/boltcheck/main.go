// boltcheck opens a bbolt file with Go's bbolt (the library etcd 3.4 uses), runs its
// consistency check and lists every top-level bucket, so that files written by our Swift
// bbolt writer are judged by an independent reader:
//
//	boltcheck FILE
//
// Prints one JSON line: the page size and page count, the check's errors, and per bucket its
// name, entry count and a CRC-32C over its entries (each key and value preceded by its length
// as 4 bytes big-endian), in bbolt's iteration order.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"

	bolt "go.etcd.io/bbolt"
)

type bucket struct {
	Name    string `json:"name"`
	Count   int    `json:"count"`
	Digest  uint32 `json:"digest"`
	Inline  bool   `json:"inline"`
	Depth   int    `json:"depth"`
	Entries int    `json:"leaf_pages"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: boltcheck FILE")
		os.Exit(2)
	}
	db, err := bolt.Open(os.Args[1], 0400, &bolt.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	defer db.Close()
	out := map[string]interface{}{}
	err = db.View(func(tx *bolt.Tx) error {
		var problems []string
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		out["errors"] = problems
		out["pages"] = tx.Size() / int64(db.Info().PageSize)
		out["page_size"] = db.Info().PageSize
		var buckets []bucket
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
			count := 0
			var length [4]byte
			err := b.ForEach(func(k, v []byte) error {
				binary.BigEndian.PutUint32(length[:], uint32(len(k)))
				h.Write(length[:])
				h.Write(k)
				binary.BigEndian.PutUint32(length[:], uint32(len(v)))
				h.Write(length[:])
				h.Write(v)
				count++
				return nil
			})
			stats := b.Stats()
			buckets = append(buckets, bucket{Name: string(name), Count: count, Digest: h.Sum32(),
				Inline: stats.InlineBucketN > 0 && stats.LeafPageN == 0, Depth: stats.Depth, Entries: stats.LeafPageN})
			return err
		})
		out["buckets"] = buckets
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}
