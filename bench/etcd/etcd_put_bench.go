// etcd-put-bench: committed puts per second of fixed-size values against an etcd cluster,
// like etcd's own `benchmark put` (tools/benchmark, which Debian does not package): `clients`
// goroutines, each with one Put in flight at a time, share `conns` gRPC connections; a Put
// returns once the cluster has committed it (quorum fsync). Prints one JSON object.
//
// Built offline against Debian's golang-etcd-server-dev (GOPATH=/usr/share/gocode,
// GO111MODULE=off); see bench/etcd.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	clients := flag.Int("clients", 1, "concurrent clients (puts in flight)")
	conns := flag.Int("conns", 1, "gRPC connections shared by the clients")
	total := flag.Int("total", 10000, "puts to issue")
	duration := flag.Duration("duration", 0, "stop issuing after this long (0: no bound)")
	valSize := flag.Int("val-size", 200, "value bytes")
	keySize := flag.Int("key-size", 8, "key bytes")
	keySpace := flag.Int("key-space-size", 100000, "distinct keys (random among them)")
	flag.Parse()

	eps := strings.Split(*endpoints, ",")
	cs := make([]*clientv3.Client, *conns)
	for i := range cs {
		c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcd-put-bench: connect:", err)
			os.Exit(1)
		}
		defer c.Close()
		cs[i] = c
	}
	value := strings.Repeat("v", *valSize)
	work := make(chan int, *clients)
	lat := make([][]float64, *clients)
	var failed int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c := cs[w%len(cs)]
			rng := rand.New(rand.NewSource(int64(w) + 1))
			key := make([]byte, *keySize)
			for range work {
				k := rng.Intn(*keySpace)
				for b := range key {
					key[b] = byte('a' + (k>>(uint(b)*3))%26)
				}
				t := time.Now()
				_, err := c.Put(context.Background(), string(key), value)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				lat[w] = append(lat[w], float64(time.Since(t).Microseconds())/1000)
			}
		}(w)
	}
	issued := 0
	for ; issued < *total; issued++ {
		if *duration > 0 && time.Since(start) > *duration {
			break
		}
		work <- issued
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Float64s(all)
	out := map[string]interface{}{
		"clients": *clients, "conns": *conns, "val_size": *valSize, "key_space": *keySpace,
		"issued": issued, "committed": len(all), "failed": failed, "elapsed_s": elapsed,
		"puts_per_s": float64(len(all)) / elapsed,
		"latency_ms": map[string]float64{
			"p50": percentile(all, 50), "p95": percentile(all, 95), "p99": percentile(all, 99),
			"max": percentile(all, 100)},
	}
	enc, _ := json.Marshal(out)
	fmt.Println(string(enc))
}
