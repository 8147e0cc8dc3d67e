package main

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// drawChart draws two grouped bar charts, ratios to nginx per test: server
// cost (CPU per operation, memory per idle connection; lower is better) on
// top, throughput (higher is better) below.
func (r *benchRun) drawChart(path string, rep report) error {
	costTests := []string{"h1", "h2", "hs-ecdsa", "hs-rsa", "hs-mlkem", "resume", "bulk", "idle"}
	rateTests := []string{"h1", "h2", "hs-ecdsa", "hs-rsa", "hs-mlkem", "resume", "bulk"}
	var servers []string
	for _, s := range allServers {
		for _, res := range r.results {
			if res.Server == s && len(res.Samples) > 0 {
				servers = append(servers, s)
				break
			}
		}
	}
	if len(servers) == 0 {
		return fmt.Errorf("nothing measured")
	}
	if r.find("nginx", "h1") == nil && r.find("nginx", "idle") == nil && r.find("nginx", "hs-ecdsa") == nil {
		return fmt.Errorf("no chart: every bar is a ratio to nginx, which was not measured")
	}
	cost := func(res *result) float64 {
		if res.Test == "idle" {
			return res.ValueVsNginx
		}
		return res.CPUVsNginx
	}
	rate := func(res *result) float64 { return res.ValueVsNginx }
	top, err := r.barPlot("server cost relative to nginx (CPU per operation; memory per idle connection) - lower is better",
		costTests, servers, cost)
	if err != nil {
		return err
	}
	bottom, err := r.barPlot(fmt.Sprintf("throughput relative to nginx - higher is better (%s run, %s, %d x %s, load avg %s)",
		rep.Mode, rep.Host["cpu"], rep.Reps, rep.Duration, rep.Host["loadavg_at_end"]), rateTests, servers, rate)
	if err != nil {
		return err
	}
	const w, h = 30 * vg.Centimeter, 24 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	plots := [][]*plot.Plot{{top}, {bottom}}
	canvases := plot.Align(plots, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		return err
	}
	return f.Close()
}

func (r *benchRun) barPlot(title string, allTests, servers []string, value func(*result) float64) (*plot.Plot, error) {
	var tests []string // only the tests with at least one bar
	for _, t := range allTests {
		for _, s := range servers {
			if res := r.find(s, t); res != nil && value(res) > 0 {
				tests = append(tests, t)
				break
			}
		}
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("no ratio to draw")
	}
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(10)
	p.Y.Label.Text = "ratio to nginx (nginx = 1)"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	width := vg.Points(70 / float64(len(servers)))
	top := 1.0
	for _, s := range servers {
		for _, t := range tests {
			if res := r.find(s, t); res != nil && value(res) > top {
				top = value(res)
			}
		}
	}
	p.Y.Max = top * 1.3 // headroom for the legend
	for i, s := range servers {
		vals := make(plotter.Values, len(tests))
		for j, t := range tests {
			if res := r.find(s, t); res != nil {
				vals[j] = value(res)
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(i)
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(float64(i)-float64(len(servers)-1)/2)
		p.Add(bars)
		p.Legend.Add(s, bars)
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(one)
	p.NominalX(tests...)
	return p, nil
}
