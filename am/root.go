// Package am is the aggregate manager's service layer (SPEC §2–§3): the
// rules of experiments, devices and users, in one place for both the
// XML-RPC API (am/api) and the web GUI (web). Every method takes the
// authenticated Principal and checks what it may do.
//
// The manager keeps its state in the SQLite store (db) and drives the
// capture daemons through their device API (capture/device). Transitions
// that touch devices are all-or-nothing: a failure on one device rolls the
// others back. A background loop (Start) follows running experiments: it
// polls the devices' job status, pulls result files for storage "remote",
// stops experiments whose duration_s is reached and ends those whose file
// sources are exhausted; another refreshes device capabilities.
package am

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/capture"
	"github.com/gimsproject/gims/db"
	"github.com/gimsproject/gims/flowstore"
	"github.com/gimsproject/gims/internal/check"
	"github.com/gimsproject/gims/internal/seal"
)

// Configuration configures a Manager. Start from DefaultConfiguration and
// set DataDir: New refuses invalid values (see Validate).
type Configuration struct {
	// DataDir holds result files pulled from the devices and seal.key,
	// which seals the anonymization keys kept in the database (required).
	DataDir string
	// DeviceTimeout bounds every call to a device (default 10 s).
	DeviceTimeout time.Duration
	// PollInterval is how often running experiments' devices are asked
	// for their status (default 1 s).
	PollInterval time.Duration
	// PullInterval is how often result files are pulled from the devices
	// of running experiments with storage "remote" (default 10 s).
	PullInterval time.Duration
	// RefreshInterval is how often device capabilities and reachability
	// are refreshed (default 30 s).
	RefreshInterval time.Duration
	// Retention is how long the files of a done experiment are kept,
	// from its end, on the AM and on the devices; the record stays.
	// Zero (the default) keeps them forever.
	Retention time.Duration
	// AuditRetention is how long audit log entries are kept (default
	// 365 days); older ones are deleted by the monitor, at most every
	// PullInterval. Zero keeps them forever.
	AuditRetention time.Duration
	// BcryptCost is the cost of password hashes (default
	// bcrypt.DefaultCost), between bcrypt.MinCost and bcrypt.MaxCost.
	BcryptCost int
	// Logger receives the manager's events; secrets are never logged.
	// Default: discard; required.
	Logger *slog.Logger
	// Now is the clock (default time.Now; required), injectable for
	// tests.
	Now func() time.Time
	// Filters bounds the compilation of the BPF filters that
	// ConfigureExperiment checks (size, terms, time, memory; see
	// capture.FilterConfiguration). Default
	// capture.DefaultFilterConfiguration; gims-am compiles in a child.
	Filters capture.FilterConfiguration
	// DeviceConcurrency bounds the calls to capture devices one
	// operation (a transition, a poll of an experiment's devices, a pull)
	// has in flight at once: a transition on 1,000 devices goes out 256 at
	// a time instead of opening 1,000 connections. Default 256; at least
	// 1.
	DeviceConcurrency int
}

// DefaultDeviceConcurrency is the default of Configuration.DeviceConcurrency.
const DefaultDeviceConcurrency = 256

// DefaultConfiguration returns the documented defaults (DataDir still to set).
func DefaultConfiguration() Configuration {
	return Configuration{
		DeviceTimeout:     10 * time.Second,
		PollInterval:      time.Second,
		PullInterval:      10 * time.Second,
		RefreshInterval:   30 * time.Second,
		AuditRetention:    365 * 24 * time.Hour,
		BcryptCost:        bcrypt.DefaultCost,
		Logger:            slog.New(slog.DiscardHandler),
		Now:               time.Now,
		Filters:           capture.DefaultFilterConfiguration(),
		DeviceConcurrency: DefaultDeviceConcurrency,
	}
}

// Validate names the field that is wrong, the rule and the value given.
func (c Configuration) Validate() error {
	return check.First(
		check.Set("DataDir", c.DataDir != "", "set (the folder of result files)"),
		check.Positive("DeviceTimeout", c.DeviceTimeout),
		check.Positive("PollInterval", c.PollInterval),
		check.Positive("PullInterval", c.PullInterval),
		check.Positive("RefreshInterval", c.RefreshInterval),
		check.NotNegative("Retention", c.Retention),
		check.NotNegative("AuditRetention", c.AuditRetention),
		check.Between("BcryptCost", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost),
		check.Set("Logger", c.Logger != nil, "set"),
		check.Set("Now", c.Now != nil, "set"),
		check.Nested("Filters", c.Filters.Validate()),
		check.Positive("DeviceConcurrency", c.DeviceConcurrency),
	)
}

// Dependencies are the components the manager uses.
type Dependencies struct {
	// DB is the open store.
	DB *db.DB
	// HTTP carries the calls to the capture devices (default: a client of
	// its own). Tests restrict where it may connect.
	HTTP *http.Client
	// DeviceTLS is the TLS of the calls to devices whose record says
	// tls: the CAs that verify them (nil RootCAs: the system's) and the
	// AM's client certificate (gims-am -device-ca, -device-cert,
	// -device-key). Nil: the defaults, no client certificate.
	DeviceTLS *tls.Config
	// Registry receives the manager's metrics (experiments by state,
	// devices, counters of running experiments), read from the database
	// at scrape time. Nil leaves them unregistered.
	Registry prometheus.Registerer
}

// Manager is the aggregate manager's service layer.
type Manager struct {
	cfg Configuration
	db  *db.DB
	log *slog.Logger

	// expLocks serializes the transitions of each experiment: device
	// calls happen outside database transactions.
	expMu    sync.Mutex
	expLocks map[int64]*sync.Mutex
	// schedMu makes the conflict check of a schedule (or of a start by
	// hand) and its storage one step, so that two configurations checked
	// at once cannot both take one interface.
	schedMu sync.Mutex

	// http carries every call to the devices (one connection pool).
	http *http.Client
	// deviceTLS is Dependencies.DeviceTLS; tlsClients are the clients of
	// the devices served over HTTPS, one per pin ("" for CA-verified).
	deviceTLS  *tls.Config
	tlsMu      sync.Mutex
	tlsClients map[string]*http.Client

	authMu    sync.Mutex
	authCache map[string]cachedLogin
	throttle  *throttle // failed logins by user and by address
	cacheKey  [32]byte
	dummyHash []byte

	keys *seal.Sealer // seals the Crypto-PAn keys stored in the database

	// filters compiles the filters of configurations to check them.
	filters *capture.FilterCompiler
	// verdicts are the filter compilations' kept verdicts (checkFilter).
	verdicts filterVerdicts
	// results are GetExperimentResults' answers kept (resultscache.go).
	results resultsCache
	// list is what ListExperiments answers from (listcache.go).
	list experimentList
	// copies are the experiments read last (expcache.go).
	copies experimentCopies
	// ingests are the flow stores the pulls ingest into (ingeststores.go).
	ingests ingestStores
	// flowSnaps keeps the in-memory flow snapshots of the experiments
	// queried last across the per-request opens of their flow stores.
	flowSnaps *flowstore.Snapshots

	// lastPull is when each experiment's files were last pulled.
	pullMu   sync.Mutex
	lastPull map[int64]time.Time
	// pullLocks holds, per experiment, the lock its pulls take: two pulls
	// of one experiment at once would both fetch a part that had just
	// become complete (pullLock).
	pullLocks map[int64]*sync.Mutex
	// pullsBeside are the experiments whose pull runs beside the
	// monitor (pullBeside).
	pullsBeside map[int64]bool
	// lastExpire is when the retention last ran, lastPrune when the
	// audit log was last pruned (under pullMu).
	lastExpire time.Time
	lastPrune  time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup

	// clients are the devices' kept clients by device name (fanout.go).
	clientMu sync.Mutex
	clients  map[string]cachedClient

	// cacheMu guards the status caches (statuscache.go): live polls by
	// experiment with their generations, and kept answers. rebuilds
	// (guarded by rebuildMu) make the callers that miss an experiment's
	// answer together wait for one rebuild.
	cacheMu  sync.RWMutex
	live     map[int64]*liveStatus
	liveGens map[int64]uint64
	statuses map[int64]*statusEntry
	// lastStamp is the stamp of the last answer kept (statusEntry.stamp).
	lastStamp uint64
	// stopped are what the devices answered right after a stop, until
	// the experiment's status is built from them (takeStopped).
	stopped   map[int64]*liveStatus
	rebuildMu sync.Mutex
	rebuilds  map[int64]*sync.Mutex

	// cancelling tells whether the monitor's cancels of starts without
	// an answer run (beside its rounds).
	cancelling atomic.Bool

	// pollNow wakes the monitor early (pollSoon).
	pollNow chan struct{}

	// pollCycle is how long the last monitor round took (nanoseconds),
	// for the metrics.
	pollCycle atomic.Int64
}

// New returns a manager, refusing an invalid configuration; it does no I/O
// until Start.
func New(cfg Configuration, deps Dependencies) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid aggregate manager configuration: %w", err)
	}
	if deps.DB == nil {
		return nil, errors.New("the aggregate manager needs a database")
	}
	filters, err := capture.NewFilterCompiler(cfg.Filters)
	if err != nil {
		return nil, err
	}
	m := &Manager{
		filters:     filters,
		flowSnaps:   flowstore.NewSnapshots(2),
		cfg:         cfg,
		db:          deps.DB,
		log:         cfg.Logger,
		expLocks:    make(map[int64]*sync.Mutex),
		http:        deps.HTTP,
		deviceTLS:   deps.DeviceTLS,
		tlsClients:  make(map[string]*http.Client),
		clients:     make(map[string]cachedClient),
		live:        make(map[int64]*liveStatus),
		liveGens:    make(map[int64]uint64),
		statuses:    make(map[int64]*statusEntry),
		stopped:     make(map[int64]*liveStatus),
		rebuilds:    make(map[int64]*sync.Mutex),
		pollNow:     make(chan struct{}, 1),
		authCache:   make(map[string]cachedLogin),
		throttle:    newThrottle(),
		lastPull:    make(map[int64]time.Time),
		pullLocks:   make(map[int64]*sync.Mutex),
		pullsBeside: make(map[int64]bool),
		keys:        seal.New(filepath.Join(cfg.DataDir, seal.KeyFile)),
	}
	if m.http == nil {
		m.http = &http.Client{Transport: deviceTransport(nil)}
	}
	if m.deviceTLS == nil {
		m.deviceTLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if _, err := rand.Read(m.cacheKey[:]); err != nil {
		return nil, fmt.Errorf("unable to make the login cache key: %w", err)
	}
	h, err := bcrypt.GenerateFromPassword(m.cacheKey[:16], cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("unable to prepare password checks: %w", err)
	}
	m.dummyHash = h
	if deps.Registry != nil {
		if err := deps.Registry.Register(newCollector(m)); err != nil {
			return nil, fmt.Errorf("unable to register the manager's metrics: %w", err)
		}
	}
	return m, nil
}

// Start creates the data folder, makes seal.key private if the group or
// others could read it (with a warning), and starts the background loops,
// which run until Stop.
func (m *Manager) Start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(m.cfg.DataDir, "experiments"), 0o750); err != nil {
		return fmt.Errorf("unable to create the data folder: %w", err)
	}
	if err := m.keys.Tighten(m.log); err != nil {
		return err
	}
	if err := m.sealStoredTokens(ctx); err != nil {
		return err
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		m.every(ctx, m.cfg.PollInterval, m.pollNow, m.monitor)
	}()
	go func() {
		defer m.wg.Done()
		m.every(ctx, m.cfg.RefreshInterval, nil, m.refreshDevices)
	}()
	return nil
}

// Stop ends the background loops. Running experiments go on on their
// devices; a new manager on the same database follows them again.
func (m *Manager) Stop() {
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	m.ingests.closeAll()
}

// every runs fn now and then every interval (or as soon as now receives)
// until ctx ends.
func (m *Manager) every(ctx context.Context, interval time.Duration, now <-chan struct{}, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-now:
		}
	}
}

// pollSoon has the monitor begin its next round as soon as the current
// one ends, without waiting for the tick (after a start, so that every
// device counts in the status sooner).
func (m *Manager) pollSoon() {
	select {
	case m.pollNow <- struct{}{}:
	default:
	}
}

// lockExperiment serializes transitions of experiment id; call the
// returned function to unlock.
func (m *Manager) lockExperiment(id int64) func() {
	m.expMu.Lock()
	l, ok := m.expLocks[id]
	if !ok {
		l = &sync.Mutex{}
		m.expLocks[id] = l
	}
	m.expMu.Unlock()
	l.Lock()
	return l.Unlock
}

// InitAdmin creates the admin name with password unless a user of that
// name exists (gims-am -init-admin). It reports whether it created one.
func (m *Manager) InitAdmin(ctx context.Context, name, password string) (bool, error) {
	if _, err := m.db.GetUser(ctx, name); err == nil {
		return false, nil
	} else if !errors.Is(err, db.ErrNotFound) {
		return false, err
	}
	if err := checkUserInput(amapi.UserInput{Name: name, Password: password, Role: RoleAdmin}); err != nil {
		return false, fmt.Errorf("init admin: %w", err)
	}
	hash, err := m.hashPassword(password)
	if err != nil {
		return false, err
	}
	if err := m.db.CreateUser(ctx, db.User{Name: name, Role: RoleAdmin, PasswordHash: hash, Created: m.cfg.Now()}); err != nil {
		return false, fmt.Errorf("init admin: %w", err)
	}
	m.log.Info("admin created", "user", name)
	return true, nil
}
