# The longest stretch of tone in a recording, for the test guest's
# sgl.record: reads signed 16-bit mono samples, one a line (od -t d2), twice
# (awk -f tone.awk -v rate=R FILE FILE). The first pass finds the longest run
# of 10 ms blocks above -40 dBFS; the second measures that run: its
# frequency from rising zero crossings (interpolated between samples), its
# mean square, and its breaks (a crossing interval more than 10 % off the
# mean: lost or repeated samples; from 50 ms into the stretch, past the
# tone's own onset). busybox's awk has no math functions: the
# level is printed as a mean square.
# Prints: hz=F tone_s=S ms=M breaks=N samples=N breaks_at=T,T,... (the first
# ten, in seconds from the stretch's start; "none")
BEGIN { block = int(rate / 100); quiet = 328 * 328; run = 0; best = 0; best_start = 0 }
FNR == NR {
    sq += $1 * $1
    if (FNR % block == 0) {
        if (sq / block > quiet) {
            if (!run) run_start = FNR - block
            run += block
            if (run > best) { best = run; best_start = run_start }
        } else {
            run = 0
        }
        sq = 0
    }
    next
}
FNR <= best_start || FNR > best_start + best { next }
{
    x = $1
    total += x * x
    if (x < -200) low = 1
    if (low && x >= 0 && FNR > best_start + 1) {
        pos = FNR - 1 + (-prev) / (x - prev)
        if (n) { iv[n] = pos - last; at[n] = pos - best_start }
        if (!n) first = pos
        last = pos
        n++
        low = 0
    }
    prev = x
}
END {
    hz = 0; breaks = 0
    if (n > 2) {
        mean = (last - first) / (n - 1)
        hz = rate / mean
        for (i = 1; i < n; i++) {
            d = iv[i] - mean
            if (d < 0) d = -d
            if (d > mean / 10 && at[i] > rate / 20) {
                breaks++
                if (breaks <= 10) where = where (breaks > 1 ? "," : "") sprintf("%.3f", at[i] / rate)
            }
        }
    }
    printf "hz=%.2f tone_s=%.2f ms=%.0f breaks=%d samples=%d", hz, best / rate, best ? total / best : 0, breaks, NR - FNR
    printf " breaks_at=%s\n", where == "" ? "none" : where
}
