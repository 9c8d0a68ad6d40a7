package audit

import "sort"

// TopImages are up to n images of the report that resolved, most pods
// first, then largest (its biggest entry): what `warm --from-audit` warms.
func TopImages(r *Report, n int) []string {
	imgs := append([]Image(nil), r.Images...)
	size := func(i Image) int64 {
		var s int64
		for _, p := range i.Platforms {
			s = max(s, p.Size)
		}
		return s
	}
	sort.SliceStable(imgs, func(a, b int) bool {
		if imgs[a].Pods != imgs[b].Pods {
			return imgs[a].Pods > imgs[b].Pods
		}
		return size(imgs[a]) > size(imgs[b])
	})
	var out []string
	for _, img := range imgs {
		if img.Error != "" {
			continue
		}
		out = append(out, img.Ref)
		if len(out) == n {
			break
		}
	}
	return out
}
