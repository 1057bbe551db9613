# Classification: tags such as pii travel downstream along lineage (the plane
# keeps each artifact's inherited ones in resource.inherited_tags), and the
# policy reads own and inherited tags alike.
#
# Data tagged with one of these — or derived from data that was — does not
# leave the plane (action export: a payload download, `artifact-plane get`)
# except through a steward.
package artifact_plane.authz.classification

import data.artifact_plane.authz.actions

no_export := {"pii", "phi", "pci"}

# Two arguments like realms.assess although the manifests are unused: regopy
# 1.5.2 fails to compile (or crashes) when a module sorted before realms.rego
# declares a one-argument `assess` beside realms' two-argument one.

assess(req, _) := actions.allowed if {
	req.action != "export"
} else := actions.allowed if {
	"steward" in object.get(req.subject, "roles", [])
} else := export_refusal(
	req,
	export_blocked(object.get(req.resource, "tags", [])),
	export_blocked(object.get(req.resource, "inherited_tags", [])),
)

export_blocked(tags) := sort([tag | some tag in tags; tag in no_export])

export_refusal(req, own, inherited) := actions.refused(concat("", [
	"classification: the artifact is ", concat(", ", own), ": only stewards may export it",
])) if {
	count(own) > 0
} else := actions.refused(concat("", [
	"classification: the artifact is derived from ", concat(", ", inherited),
	" data (inherited along lineage): only stewards may export it",
])) if {
	count(inherited) > 0
} else := actions.allowed
