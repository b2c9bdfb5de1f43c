// Package agentalias gives agents stable public names.
//
// An alias is a stable key, such as "support", that maps to one or more
// agents under a routing policy. A host application registers its own agents,
// creates aliases, and creates sessions through an alias: the alias's policy
// picks the agent that owns each new session, once, at creation. Later policy
// changes never move an existing session. The library stores aliases,
// sessions, their events and artifacts, runs the host's agent for each input,
// and can serve everything as a REST API compatible with Vectara's
// /v2/agent_aliases.
//
// # Packages
//
// The module is layered, with dependencies pointing inward:
//
//   - policy: the routing policy documents (the contract's "routed" policy
//     with "single" and "weighted" targets, plus our "fallback" target and
//     "stickiness"), their JSON and their validation.
//   - alias, session, event, artifact: the domain types, their JSON (the
//     REST contract's field names and shapes), validation, keys and patches.
//   - storage: the Storage interface and its errors; storage/memstore keeps
//     state in memory, and storage/storagetest is the conformance suite every
//     store passes.
//
// # Policies
//
// A policy is an ordered list of rules. The first rule whose "match"
// expression is true decides; a rule without "match" is a catch-all and must
// be the last one. A rule's targets name one agent ("single"), split traffic
// by weight on a partition value ("weighted"), or list agents in order of
// preference ("fallback"). See package policy.
//
// # Storage
//
// Everything is stored behind storage.Storage, scoped to a tenant. The
// in-memory store (storage/memstore) is supported, not a toy: use it in unit
// tests and in hosts that can lose their state on restart.
//
// # Errors
//
// Invalid input is reported field by field: validation errors have a method
// FieldErrors() map[string]string whose keys are JSON paths such as
// "policy.rules[2].targets.options[0].weight". Stores report the sentinels of
// package storage (storage.ErrNotFound, storage.ErrExists, ...), which callers
// test with errors.Is.
//
// # Concurrency
//
// Stores and their values are safe for concurrent use as documented on each
// type. Domain values (alias.Alias, session.Session, ...) are plain structs:
// stores copy them in and out, so callers never share memory with a store.
package agentalias
