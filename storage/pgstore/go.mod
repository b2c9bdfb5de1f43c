module github.com/agentalias/agentalias/storage/pgstore

go 1.25.0

require (
	github.com/agentalias/agentalias v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.13.0
)

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

// Developed in lockstep with the core module in this repository. The replace
// directive does not reach hosts: to release, tag the core first (vX.Y.Z),
// require that version above, then tag this module (storage/pgstore/vX.Y.Z).
replace github.com/agentalias/agentalias => ../..
