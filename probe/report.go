package probe

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary counts a report's results by status.
type Summary struct {
	Passed, Failed, NotApplicable, Errored int
}

// Summary counts the results.
func (rep *Report) Summary() Summary {
	var s Summary
	for _, r := range rep.Results {
		switch r.Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case NotApplicable:
			s.NotApplicable++
		case Errored:
			s.Errored++
		}
	}
	return s
}

// weights rank severities for the score: a critical failure costs ten
// low ones.
var weights = [...]int{Info: 0, Low: 1, Medium: 3, High: 7, Critical: 10}

// Score is 0 to 100: the passed checks' share of the applicable ones,
// weighted by severity (a check that errored counts as failed). A report
// with nothing applicable scores 0: nothing was shown.
func (rep *Report) Score() int {
	var got, of int
	for _, r := range rep.Results {
		w := weights[r.Check.Severity]
		switch r.Status {
		case Pass:
			got += w
			of += w
		case Fail, Errored:
			of += w
		}
	}
	if of == 0 {
		return 0
	}
	return got * 100 / of
}

// Failures returns the results that failed or errored at sev or above:
// what a CI gate (-fail-on) stops on. A check that could not run is no
// proof that the API is safe, so it counts.
func (rep *Report) Failures(sev Severity) []Result {
	var out []Result
	for _, r := range rep.Results {
		if (r.Status == Fail || r.Status == Errored) && r.Check.Severity >= sev {
			out = append(out, r)
		}
	}
	return out
}

// WriteTable writes the report for a terminal: one line per check, then
// the summary and the score.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSEVERITY\tCHECK\tEVIDENCE")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Status, r.Check.Severity, r.Check.ID, oneLine(r.Evidence))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := rep.Summary()
	_, err := fmt.Fprintf(w, "\n%s: %d checks in %s: %d passed, %d failed, %d not applicable, %d errored; score %d/100\n",
		rep.Target, len(rep.Results), rep.Duration.Round(time.Millisecond), s.Passed, s.Failed, s.NotApplicable, s.Errored, rep.Score())
	return err
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// jsonResult is one result in the JSON report.
type jsonResult struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	OWASP    string `json:"owasp"`
	CWE      string `json:"cwe"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
	Sends    string `json:"sends"`
	Expects  string `json:"expects"`
	Requests int    `json:"requests"`
	Millis   int64  `json:"duration_ms"`
}

var statusJSON = [...]string{Pass: "pass", Fail: "fail", NotApplicable: "not_applicable", Errored: "error"}

// WriteJSON writes the report as one JSON document.
func (rep *Report) WriteJSON(w io.Writer) error {
	s := rep.Summary()
	doc := struct {
		Target   string       `json:"target"`
		Started  time.Time    `json:"started"`
		Millis   int64        `json:"duration_ms"`
		Score    int          `json:"score"`
		Summary  any          `json:"summary"`
		Results  []jsonResult `json:"results"`
		Checks   int          `json:"checks"`
		Version  string       `json:"format_version"`
		Producer string       `json:"producer"`
	}{Target: rep.Target, Started: rep.Started.UTC(), Millis: rep.Duration.Milliseconds(), Score: rep.Score(),
		Summary: map[string]int{"passed": s.Passed, "failed": s.Failed, "not_applicable": s.NotApplicable, "errored": s.Errored},
		Checks:  len(rep.Results), Version: "1", Producer: "bulwark probe"}
	for _, r := range rep.Results {
		c := r.Check
		doc.Results = append(doc.Results, jsonResult{ID: c.ID, Category: c.Category, Title: c.Title, Severity: c.Severity.String(),
			OWASP: c.OWASP, CWE: "CWE-" + strconv.Itoa(c.CWE), Status: statusJSON[r.Status], Evidence: r.Evidence,
			Sends: c.Sends, Expects: c.Expects, Requests: r.Requests, Millis: r.Duration.Milliseconds()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteJUnit writes the report as JUnit XML, the format CI test tabs
// read: one test case per check, a failure per failed check, skipped for
// not applicable, an error for a check that could not run.
func (rep *Report) WriteJUnit(w io.Writer) error {
	type msg struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string  `xml:"name,attr"`
		Classname string  `xml:"classname,attr"`
		Time      string  `xml:"time,attr"`
		Failure   *msg    `xml:"failure,omitempty"`
		Error     *msg    `xml:"error,omitempty"`
		Skipped   *msg    `xml:"skipped,omitempty"`
		SystemOut *string `xml:"system-out,omitempty"`
	}
	type testsuite struct {
		XMLName   xml.Name   `xml:"testsuite"`
		Name      string     `xml:"name,attr"`
		Tests     int        `xml:"tests,attr"`
		Failures  int        `xml:"failures,attr"`
		Errors    int        `xml:"errors,attr"`
		Skipped   int        `xml:"skipped,attr"`
		Time      string     `xml:"time,attr"`
		Timestamp string     `xml:"timestamp,attr"`
		Cases     []testcase `xml:"testcase"`
	}
	s := rep.Summary()
	ts := testsuite{Name: "bulwark probe " + rep.Target, Tests: len(rep.Results), Failures: s.Failed, Errors: s.Errored,
		Skipped: s.NotApplicable, Time: seconds(rep.Duration), Timestamp: rep.Started.UTC().Format(time.RFC3339)}
	for _, r := range rep.Results {
		c := r.Check
		tc := testcase{Name: c.ID, Classname: "probe." + c.Category, Time: seconds(r.Duration)}
		detail := fmt.Sprintf("%s\nseverity: %s; %s; CWE-%d\nsends: %s\nexpects: %s", c.Title, c.Severity, c.OWASP, c.CWE, c.Sends, c.Expects)
		switch r.Status {
		case Fail:
			tc.Failure = &msg{Message: r.Evidence, Type: c.Severity.String(), Text: detail}
		case Errored:
			tc.Error = &msg{Message: r.Evidence, Text: detail}
		case NotApplicable:
			tc.Skipped = &msg{Message: r.Evidence}
		default:
			tc.SystemOut = &r.Evidence
		}
		ts.Cases = append(ts.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(ts); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// securitySeverity is SARIF's security-severity property (0–10), by which
// code-scanning UIs rank alerts.
var securitySeverity = [...]string{Info: "0.0", Low: "3.0", Medium: "5.5", High: "8.0", Critical: "9.5"}

var sarifLevel = [...]string{Info: "note", Low: "note", Medium: "warning", High: "error", Critical: "error"}

// WriteSARIF writes the report as SARIF 2.1.0 for code-scanning UIs: every
// check is a rule; every failed check a result located at the target.
func (rep *Report) WriteSARIF(w io.Writer) error {
	type text struct {
		Text string `json:"text"`
	}
	type rule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription text           `json:"shortDescription"`
		FullDescription  text           `json:"fullDescription"`
		Help             text           `json:"help"`
		Properties       map[string]any `json:"properties"`
	}
	type result struct {
		RuleID    string `json:"ruleId"`
		Level     string `json:"level"`
		Message   text   `json:"message"`
		Locations []any  `json:"locations"`
	}
	var rules []rule
	var results []result
	loc := map[string]any{"physicalLocation": map[string]any{"artifactLocation": map[string]string{"uri": rep.Target}}}
	for _, r := range rep.Results {
		c := r.Check
		rules = append(rules, rule{ID: c.ID, Name: c.ID, ShortDescription: text{c.Title},
			FullDescription: text{c.Title + ". Sends " + c.Sends + "."},
			Help:            text{"A secure API answers: " + c.Expects + "."},
			Properties: map[string]any{"tags": []string{"security", c.Category, c.OWASP, "CWE-" + strconv.Itoa(c.CWE)},
				"security-severity": securitySeverity[c.Severity]}})
		if r.Status == Fail || r.Status == Errored {
			m := r.Evidence
			if r.Status == Errored {
				m = "could not be run: " + m
			}
			results = append(results, result{RuleID: c.ID, Level: sarifLevel[c.Severity], Message: text{c.Title + ": " + m}, Locations: []any{loc}})
		}
	}
	doc := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name": "bulwark probe", "informationUri": "https://github.com/bulwark-go/bulwark", "rules": rules,
			}},
			"results": nonNil(results),
			"invocations": []any{map[string]any{"executionSuccessful": true,
				"startTimeUtc": rep.Started.UTC().Format(time.RFC3339), "endTimeUtc": rep.Started.Add(rep.Duration).UTC().Format(time.RFC3339)}},
		}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
