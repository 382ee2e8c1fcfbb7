# Sourced by the comparison scripts: wall time of one run, and the median of several.
#   time_of CMD ARG... prints the command's wall seconds (its own output discarded)
#   median N...        prints the median of the numbers

time_of() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
