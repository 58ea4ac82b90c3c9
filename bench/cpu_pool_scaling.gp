# Throughput of primes tasks against the size of the cpu pool (a fresh server
# per size).  Called by run.sh: gnuplot -e "out='FILE.png'; data='DIR'" cpu_pool_scaling.gp
set terminal pngcairo size 800,520 noenhanced font ",10"
set output out
set title "cpu pool: primes tasks/s against --pools.cpu.size (16 tasks at once)"
set xlabel "cpu pool size (workers)"
set ylabel "tasks/s"
set xtics (1, 2, 4)
set xrange [0.5:4.5]
set yrange [0:*]
set grid
set key top left
set datafile missing "NaN"
plot data."/cpu_scaling.dat" using 1:2 with linespoints lw 2 pt 7 title "measured", \
     data."/cpu_scaling.dat" using 1:3 with lines dt 2 lw 1 title "ideal: size-1 rate × min(size, cores)"
