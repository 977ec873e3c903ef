module github.com/gimsproject/gims

go 1.24

require (
	github.com/calmh/ipfix v1.3.0
	github.com/google/gopacket v1.1.19
	github.com/gorilla/rpc v1.2.1
	golang.org/x/crypto v0.31.0
	golang.org/x/sys v0.28.0
)

require (
	github.com/mattn/go-sqlite3 v1.14.22 // indirect
	golang.org/x/net v0.21.0 // indirect
	gopkg.in/gcfg.v1 v1.2.3 // indirect
	gopkg.in/warnings.v0 v0.1.2 // indirect
)
