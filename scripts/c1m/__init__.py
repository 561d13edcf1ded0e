"""c1m's orchestration: ./run.sh, the record, merge, compare, report, perf.

The C programs (NN_*/server, NN_*/client) measure; this package runs them,
as the kernel's networking selftests run their C tools from Python. Python
3.9+ standard library only. A client host needs only the built client.

One module per stage; a run is one object passed through them, and no
module keeps mutable state of its own:

    cli       argv -> Options (what the user asked); usage; exit 2 on bad input
    workload  --workload: the traffic shapes, their parameters, their client flags
    designs   which directories hold a design's server and client; their -L limits
    plan      sizing (pure: Sizing from limits and machine facts), the window,
              the time a run takes, CPU sets for --pin
    kernel    scripts/tune.sh apply/check/undo, network namespaces, auto-netns,
              /proc readings (sysctls, TcpExt counters, TIME_WAIT, slab)
    proc      cmd(), bkg() and the Cleanup stack (defer): every process and
              kernel change is undone, also on Ctrl-C and failure
    pair      one pair's run on this machine: server up, sampler, client, stop
    hosts     --hosts: parse, check every host, the start barrier, merge
    run       Run (one design at one size) through the stages; `all`; main()
    record    the result: summary (bottleneck verdict), result JSON, CSV row,
              the printed table
    schema    SCHEMA_VERSION, validate(), load() of old and new result files
    jsonio    JSON lines in, JSON out at full precision, hostile strings safe
    hist      common/hist.c's rule: bucket edges, the reported value, quantile,
              merge (buckets added, never percentiles)
    merge     the clients of several hosts -> one client line (scripts/merge)
    stats     median, spread, ratio to a reference, "within noise" (pure)
    compare   ./run.sh compare: the plan, rounds interleaved, the tables
    report    results -> README tables and charts (scripts/report)
    charts    SVG charts
    formats   .hgrm (HdrHistogram percentile distribution), per-interval CSV
    perf      --perf: perf-top's arithmetic
    fmt       numbers as people read them: 1,234,567  850 us  8.3 KB  1M

Entry points (thin shell wrappers keep the paths users and tests type):
./run.sh -> c1m.run, scripts/report -> c1m.report, scripts/merge ->
c1m.merge, scripts/perf-top -> c1m.perf.
"""
