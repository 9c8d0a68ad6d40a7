package pass

import "context"

// reserveDisk asks the guard for room for the layers of plan the node
// does not hold yet; a pull the planner could not size is checked against
// the volume as it is.
func (w *Warmer) reserveDisk(ctx context.Context, plan Plan) (func(), error) {
	have, err := w.Runtime.HaveLayers(ctx, plan.Layers)
	if err != nil {
		return nil, err
	}
	missing := plan.Size
	if len(plan.LayerSizes) > 0 {
		missing = 0
	}
	for i, d := range plan.Layers {
		if i < len(plan.LayerSizes) && !have[d] {
			missing += plan.LayerSizes[i]
		}
	}
	return w.Guard(missing)
}
