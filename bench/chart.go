package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The chart: one panel per workload of the catch-up runs; in each, groups of bars by worker count
// (slave_parallel_threads for the native replica, workers for mtreplica), one bar per configuration: the median
// transactions/s over the repeats, a whisker from the slowest to the fastest run. A configuration whose runs all
// failed shows "failed" instead of a bar. Plain SVG 1.1, no scripts or external resources.

const (
	plotWidth    = 650 // from the y axis to the legend
	panelHeight  = 320
	plotLeft     = 80
	plotTop      = 50
	plotBottom   = 60
	chartPadding = 10
)

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

// chartSeries is one configuration's bar in one workload panel.
type chartSeries struct {
	name    string
	workers int
	med     float64 // NaN when every run failed
	lo, hi  float64
	runs    int
}

// renderChart returns the SVG document for the catch-up results.
func renderChart(title string, results []Result) string {
	groups := groupResults(results, "catch-up")
	var workloads []string
	var names []string // legend order: first appearance
	for _, g := range groups {
		if !slices.Contains(workloads, g.key.workload) {
			workloads = append(workloads, g.key.workload)
		}
		if n := configName(g.key.engine, g.key.mode, g.key.preserve); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	color := func(name string) string { return palette[slices.Index(names, name)%len(palette)] }
	legendW := 200
	for _, n := range names {
		legendW = max(legendW, 40+7*len(n)) // about 7 px per character at 12 px
	}
	chartWidth := plotLeft + plotWidth + legendW

	height := chartPadding*2 + 45 + max(1, len(workloads))*panelHeight
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="16" font-weight="bold">%s</text>`+"\n", chartPadding, chartPadding+18, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">catch-up: transactions/s applying a fixed backlog; bar = median of the repeats, whisker = slowest to fastest</text>`+"\n",
		chartPadding, chartPadding+36)
	if len(workloads) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d">no catch-up results</text>`+"\n", chartPadding, chartPadding+50)
	}
	for i, wl := range workloads {
		var series []chartSeries
		var desc string
		for _, g := range groups {
			if g.key.workload != wl {
				continue
			}
			s := chartSeries{name: configName(g.key.engine, g.key.mode, g.key.preserve), workers: g.key.workers,
				med: math.NaN(), runs: len(g.runs)}
			if xs := g.rates(); len(xs) > 0 {
				s.med, s.lo, s.hi = median(xs), slices.Min(xs), slices.Max(xs)
			}
			series = append(series, s)
			if desc == "" {
				r := g.runs[0]
				desc = fmt.Sprintf("%s: %s; backlog %d transactions, %s durability", wl, workloadInfo[wl], r.Txns, r.Durability)
			}
		}
		top := chartPadding + 45 + i*panelHeight
		renderPanel(&b, top, desc, series, color)
	}
	// Legend (once, at the top right).
	lx := plotLeft + plotWidth + 20
	for i, n := range names {
		y := chartPadding + 45 + plotTop + i*20
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="14" fill="%s"/>`+"\n", lx, y, color(n))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+20, y+11, esc(n))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func renderPanel(b *strings.Builder, top int, desc string, series []chartSeries, color func(string) string) {
	left, right := plotLeft, plotLeft+plotWidth
	y0 := top + panelHeight - plotBottom // the x axis
	y1 := top + plotTop                  // the top of the plot
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>`+"\n", chartPadding, top+25, esc(desc))

	var workers []int
	ymax := 0.0
	for _, s := range series {
		if !slices.Contains(workers, s.workers) {
			workers = append(workers, s.workers)
		}
		if !math.IsNaN(s.hi) {
			ymax = max(ymax, s.hi)
		}
	}
	slices.Sort(workers)
	top0, step := niceScale(ymax)
	scale := func(v float64) float64 { return float64(y0) - v/top0*float64(y0-y1) }

	// Grid and y labels.
	for i := 0; float64(i)*step <= top0+step/2; i++ {
		v := float64(i) * step
		y := scale(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, right, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, fmtAxis(v))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">transactions/s</text>`+"\n",
		chartPadding+12, (y0+y1)/2, chartPadding+12, (y0+y1)/2)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", left, y0, right, y0)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">workers (native: slave_parallel_threads; 0 = serial SQL thread)</text>`+"\n",
		(left+right)/2, y0+40)

	groupW := float64(right-left) / float64(max(1, len(workers)))
	for gi, w := range workers {
		var in []chartSeries
		for _, s := range series {
			if s.workers == w {
				in = append(in, s)
			}
		}
		gx := float64(left) + groupW*float64(gi)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", gx+groupW/2, y0+18, w)
		barW := min(48, (groupW*0.8)/float64(len(in)))
		x := gx + (groupW-barW*float64(len(in)))/2
		for _, s := range in {
			cx := x + barW/2
			if math.IsNaN(s.med) {
				fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#d62728" font-weight="bold">failed</text>`+"\n", cx, y0-6)
				fmt.Fprintf(b, `<title>%s: failed (%d runs)</title>`+"\n", esc(s.name), s.runs)
				x += barW
				continue
			}
			yt := scale(s.med)
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %d workers: %s txn/s (median of %d; %s-%s)</title></rect>`+"\n",
				x+1, yt, barW-2, float64(y0)-yt, color(s.name), esc(s.name), s.workers, fmtRate(s.med), s.runs, fmtRate(s.lo), fmtRate(s.hi))
			if s.hi > s.lo {
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", cx, scale(s.lo), cx, scale(s.hi))
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", cx-4, scale(s.hi), cx+4, scale(s.hi))
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", cx-4, scale(s.lo), cx+4, scale(s.lo))
			}
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", cx, scale(max(s.med, s.hi))-4, fmtRate(s.med))
			x += barW
		}
	}
}

// niceScale returns an axis top >= v and a tick step (1, 2 or 5 times a power of ten, about 5 ticks).
func niceScale(v float64) (top, step float64) {
	if v <= 0 || math.IsNaN(v) {
		return 1, 0.2
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

// fmtAxis prints an axis value briefly: 0, 0.5, 250, 1.5k, 6k.
func fmtAxis(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(math.Round(v/10)/100, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func esc(s string) string { return html.EscapeString(s) }
