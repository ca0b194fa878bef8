package mesosemu

import (
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

func TestResourceArithmeticIsExactAndDoesNotMutate(t *testing.T) {
	total, err := ParseResources("cpus:1;mem:100;ports:[31000-31009];disks:{a,b}")
	if err != nil {
		t.Fatal(err)
	}
	slice, _ := ParseResources("cpus:0.2;mem:10;ports:[31002-31003];disks:{a}")
	left := total
	for i := 0; i < 5; i++ {
		if !resContains(left, slice) && i < 1 {
			t.Fatalf("step %d: %v should contain %v", i, left, slice)
		}
		left = resMinus(left, slice...)
		slice[2].Ranges.Range[0] = mesos.Value_Range{Begin: 31004 + uint64(2*i), End: 31005 + uint64(2*i)}
	}
	if got := scalar(left, "cpus"); got != 0 {
		t.Fatalf("five slices of 0.2 cpus from 1.0 leave %v, want exactly 0 (fixed point)", got)
	}
	if got := scalar(total, "cpus"); got != 1 {
		t.Fatalf("the input was mutated: %v cpus", got)
	}
	if scalar(left, "mem") != 50 {
		t.Fatalf("mem left %v, want 50", scalar(left, "mem"))
	}
	back := resPlus(left, resMinus(total, left...)...)
	if !resContains(back, total) || !resContains(total, back) {
		t.Fatalf("left + (total - left) = %v, want %v", back, total)
	}
	if resContains(total, resPlus(nil, slice[0], slice[0], slice[0], slice[0], slice[0], slice[0])) {
		t.Fatalf("6 × 0.2 cpus must not fit in 1")
	}
}

func TestRangeArithmetic(t *testing.T) {
	r := func(b, e uint64) mesos.Value_Range { return mesos.Value_Range{Begin: b, End: e} }
	got := subtractRanges([]mesos.Value_Range{r(1, 10), r(20, 30)}, []mesos.Value_Range{r(5, 22), r(30, 30)})
	want := []mesos.Value_Range{r(1, 4), r(23, 29)}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("subtract = %v, want %v", got, want)
	}
	u := unionRanges([]mesos.Value_Range{r(1, 4)}, []mesos.Value_Range{r(5, 9), r(20, 21)})
	if len(u) != 2 || u[0] != r(1, 9) {
		t.Fatalf("union = %v, want [1-9 20-21]", u)
	}
}
