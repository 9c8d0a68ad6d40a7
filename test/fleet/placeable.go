package fleet

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// placeable tells whether some Ready node would take the pod by the
// scheduler's own filters: required node affinity and nodeSelector,
// NoSchedule/NoExecute taints and the CPU request against allocatable
// (k8s.io/component-helpers v0.37.2 scheduling/corev1, which the
// scheduler's NodeAffinity and TaintToleration plugins call).
//
// A pod reported Unschedulable while a placeable node exists is not
// settled: the scheduler tried before that node was Ready or lost its
// not-ready taint, and it will try again. Taking such a pod as settled let
// an audit run before the pod was bound to its node.
func placeable(pod *corev1.Pod, nodes []corev1.Node) bool {
	affinity := nodeaffinity.GetRequiredNodeAffinity(pod)
	cpu := podCPURequest(pod)
	for i := range nodes {
		n := &nodes[i]
		if !nodeReady(n) || n.Spec.Unschedulable {
			continue
		}
		if ok, err := affinity.Match(n); err != nil || !ok {
			continue
		}
		if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), n.Spec.Taints, pod.Spec.Tolerations, scheduleTaint, false); untolerated {
			continue
		}
		if alloc, ok := n.Status.Allocatable[corev1.ResourceCPU]; ok && alloc.Cmp(cpu) < 0 {
			continue
		}
		return true
	}
	return false
}

// scheduleTaint is a taint that keeps the pod off the node for good. The
// taints the node lifecycle controller keeps in step with the Ready
// condition are left out (only Ready nodes are asked): the controller
// lifts them shortly after the node turns Ready, and the scheduler then
// retries the pod.
func scheduleTaint(t *corev1.Taint) bool {
	if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
		return false
	}
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

func podCPURequest(pod *corev1.Pod) resource.Quantity {
	var sum resource.Quantity
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			sum.Add(q)
		}
	}
	return sum
}
