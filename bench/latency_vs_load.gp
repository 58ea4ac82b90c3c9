# Latency percentiles of GET /v1/tasks/{id} against offered load (open loop,
# latency from the intended send time), with the bare cpp-httplib floor.
# Called by run.sh: gnuplot -e "out='FILE.png'; data='DIR'" latency_vs_load.gp
set terminal pngcairo size 900,560 noenhanced font ",10"
set output out
set title "GET /v1/tasks/{id}: latency against offered load (50 keep-alive conns, open loop)"
set xlabel "offered load (req/s)"
set ylabel "latency (ms, log scale)"
set logscale y
set xrange [0:*]
set grid
set key top left
set datafile missing "NaN"
plot data."/latency_actorq.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "actorq p50", \
     data."/latency_actorq.dat" using 1:4 with linespoints lw 2 pt 5 lc rgb "#d62728" title "actorq p99", \
     data."/latency_floor.dat"  using 1:3 with linespoints dt 2 pt 6 lc rgb "#1f77b4" title "bare cpp-httplib floor p50", \
     data."/latency_floor.dat"  using 1:4 with linespoints dt 2 pt 4 lc rgb "#d62728" title "bare cpp-httplib floor p99"
