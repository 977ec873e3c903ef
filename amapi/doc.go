// Package amapi is the AM's XML-RPC API contract (SPEC §3): the request
// and reply types, the fault codes and the result kinds, shared by the
// server (am, am/api), the web GUI and gimsctl, and a typed client of the
// API.
//
// It is a leaf: it imports only the standard library, the xmlrpc codec and
// deviceapi (whose result entries its rows embed, so the schema is written
// once), never the manager, the database or anything with cgo, so that
// gimsctl links neither SQLite nor libpcap.
package amapi
