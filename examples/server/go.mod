module github.com/agentalias/agentalias/examples/server

go 1.25.0

require (
	github.com/agentalias/agentalias v0.0.0-00010101000000-000000000000
	github.com/agentalias/agentalias/storage/pgstore v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.13.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

// The example is built from this repository's modules.
replace (
	github.com/agentalias/agentalias => ../..
	github.com/agentalias/agentalias/storage/pgstore => ../../storage/pgstore
)
