package store

import "testing"

func TestOpenPersists(t *testing.T) {
	dir := t.TempDir() + "/data"
	db, err := Open(t.Context(), dir, "kv.db", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('next_batch', 's42')`); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	db.Close()

	db, err = Open(t.Context(), dir, "kv.db", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRow(`SELECT v FROM kv WHERE k = 'next_batch'`).Scan(&v); err != nil || v != "s42" {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
}
