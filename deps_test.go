package jenkinsmesos_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/jenkins-mesos/jenkins-mesos"

// goList returns the packages matched by pattern with their imports and
// transitive dependencies.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, pattern string) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// pureRoots are the packages of DESIGN §2 that must do no I/O.
var pureRoots = []string{"offers", "scheduler", "executor", "proto"}

// forbiddenInPure are the standard packages whose presence among a pure
// package's direct imports means I/O, processes or ambient state.
var forbiddenInPure = []string{"net", "net/http", "os", "os/exec", "os/signal", "syscall", "io/ioutil", "math/rand", "math/rand/v2", "crypto/rand", "log"}

func TestPurePackagesDoNoIO(t *testing.T) {
	for _, root := range pureRoots {
		for _, p := range goList(t, "./"+root) {
			for _, v := range pureImportViolations(p) {
				t.Error(v)
			}
		}
	}
}

// pureImportViolations is the import rule for one pure package.
func pureImportViolations(p listedPackage) []string {
	var out []string
	for _, imp := range p.Imports {
		for _, bad := range forbiddenInPure {
			if imp == bad {
				out = append(out, p.ImportPath+" imports "+imp+": pure packages must not do I/O (DESIGN §2)")
			}
		}
		if strings.HasPrefix(imp, module+"/") && !isPure(imp) {
			out = append(out, p.ImportPath+" imports "+imp+": a pure package may import only other pure packages")
		}
	}
	return out
}

func isPure(path string) bool {
	rel := strings.TrimPrefix(path, module+"/")
	for _, root := range pureRoots {
		if rel == root || (strings.HasPrefix(rel, root+"/") && !strings.HasPrefix(rel, "scheduler/")) {
			return true
		}
	}
	return false
}

func TestJenkinsAdapterDoesNotImportScheduler(t *testing.T) {
	for _, p := range goList(t, "./jenkins/...") {
		for _, d := range p.Deps {
			if d == module+"/scheduler" || strings.HasPrefix(d, module+"/scheduler/") {
				t.Errorf("%s depends on %s: jenkins must not import scheduler (DESIGN §2)", p.ImportPath, d)
			}
		}
	}
}

// Emulators are independent implementations of Mesos and Jenkins: if they
// shared our code they would share our bugs.
func TestEmulatorsDoNotImportTheProduct(t *testing.T) {
	for _, pattern := range []string{"./integration/mesosemu/...", "./integration/jenkinsemu/...", "./cmd/mesos-emulator/...", "./cmd/jenkins-emulator/..."} {
		pkgs := goListIfExists(t, pattern)
		for _, p := range pkgs {
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, module+"/") {
					continue
				}
				rel := strings.TrimPrefix(d, module+"/")
				if !strings.HasPrefix(rel, "integration/mesosemu") && !strings.HasPrefix(rel, "integration/jenkinsemu") && rel != "integration/emutime" && rel != "integration/zktest" {
					t.Errorf("%s depends on %s: emulators must not import the product", p.ImportPath, d)
				}
			}
		}
	}
}

func goListIfExists(t *testing.T, pattern string) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps,Error", pattern).Output()
	if err != nil {
		return nil
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			listedPackage
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Error == nil {
			pkgs = append(pkgs, p.listedPackage)
		}
	}
	return pkgs
}

// The rules must be able to fail: a synthetic pure package importing
// net/http, or the driver, is caught by the same predicate the real check
// uses, and so is a clock read through an aliased or dot import of time.
func TestPureRuleCatchesIO(t *testing.T) {
	if !isPure(module + "/offers") {
		t.Fatalf("offers must count as pure")
	}
	if isPure(module+"/scheduler/driver") || isPure(module+"/jenkins") {
		t.Fatalf("scheduler/driver and jenkins must not count as pure")
	}
	fake := listedPackage{ImportPath: module + "/offers", Imports: []string{"fmt", "net/http", module + "/scheduler/driver"}}
	if v := pureImportViolations(fake); len(v) != 2 || !strings.Contains(v[0], "net/http") || !strings.Contains(v[1], "scheduler/driver") {
		t.Fatalf("a pure package importing net/http and the driver: violations %q, want both named", v)
	}
	banned := map[string]bool{"Now": true}
	for name, src := range map[string]string{
		"plain":   "package p\nimport \"time\"\nvar x = time.Now()\n",
		"aliased": "package p\nimport clk \"time\"\nvar x = clk.Now()\n",
		"dot":     "package p\nimport . \"time\"\nvar x = Now()\n",
		"go":      "package p\nfunc f() { go f() }\n",
	} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, name+".go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if v := syntaxViolations(fset, f, banned); len(v) != 1 {
			t.Errorf("%s: violations %q, want one", name, v)
		}
	}
	fset := token.NewFileSet()
	f, _ := parser.ParseFile(fset, "ok.go", "package p\nimport \"time\"\nvar d = time.Second\ntype clock struct{}\nfunc (clock) Now() {}\nvar c clock\nfunc g() { c.Now() }\n", 0)
	if v := syntaxViolations(fset, f, banned); len(v) != 0 {
		t.Errorf("time.Second and a method named Now: violations %q, want none", v)
	}
}

// Imports alone cannot show a clock read or a goroutine: walk the syntax of
// every non-test file of the pure packages.
func TestPurePackagesHaveNoClockOrGoroutines(t *testing.T) {
	banned := map[string]bool{"Now": true, "Sleep": true, "After": true, "AfterFunc": true, "NewTimer": true, "NewTicker": true, "Tick": true, "Since": true, "Until": true}
	for _, root := range pureRoots {
		if root == "scheduler" {
			checkPureSyntax(t, "scheduler", banned, false)
			continue
		}
		checkPureSyntax(t, root, banned, true)
	}
}

func checkPureSyntax(t *testing.T, dir string, banned map[string]bool, recursive bool) {
	t.Helper()
	fset := token.NewFileSet()
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, perr := parser.ParseFile(fset, path, nil, 0)
		if perr != nil {
			t.Errorf("parsing %s: %v", path, perr)
			return nil
		}
		for _, v := range syntaxViolations(fset, f, banned) {
			t.Error(v)
		}
		return nil
	})
}

// syntaxViolations finds goroutines and clock reads in one file, through
// whatever name the file imports time under (time, an alias, or a dot
// import).
func syntaxViolations(fset *token.FileSet, f *ast.File, banned map[string]bool) []string {
	var out []string
	names := map[string]bool{}
	dot := false
	for _, imp := range f.Imports {
		if strings.Trim(imp.Path.Value, `"`) != "time" {
			continue
		}
		switch {
		case imp.Name == nil:
			names["time"] = true
		case imp.Name.Name == ".":
			dot = true
		case imp.Name.Name != "_":
			names[imp.Name.Name] = true
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.GoStmt:
			out = append(out, fset.Position(x.Pos()).String()+": goroutine in a pure package")
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && names[id.Name] && banned[x.Sel.Name] {
				out = append(out, fset.Position(x.Pos()).String()+": time."+x.Sel.Name+" in a pure package: time is an input")
			}
		case *ast.CallExpr:
			if id, ok := x.Fun.(*ast.Ident); ok && dot && banned[id.Name] {
				out = append(out, fset.Position(x.Pos()).String()+": time."+id.Name+" (dot import) in a pure package: time is an input")
			}
		}
		return true
	})
	return out
}
