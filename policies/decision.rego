# The entrypoint: data.artifact_plane.authz.decision = {"allow": bool, "reasons": [string]}.
#
# Every concern must allow and none may object. A concern that cannot decide
# (missing input, a typo in a rule) leaves the decision undefined or denied,
# never allowed: the engines treat an undefined decision as a deny.
#
# The rules are functions of the request and the realm manifests rather than
# of `input`, so tests call them with plain arguments: regopy 1.5 compiles
# each `with` modifier into a fresh copy of every rule it touches, which costs
# seconds and gigabytes per test.
package artifact_plane.authz

import data.artifact_plane.authz.classification
import data.artifact_plane.authz.content
import data.artifact_plane.authz.realms
import data.artifact_plane.authz.roles
import data.artifact_plane.authz.tenant

# No data.realms means no realm is known (realm subjects are then denied).
default realm_manifests := {}

realm_manifests := data.realms

decision := decide(input, realm_manifests)

decide(req, manifests) := verdict([
	tenant.assess(req), roles.assess(req), realms.assess(req, manifests),
	content.assess(req, manifests), classification.assess(req, manifests),
])

verdict(answers) := {"allow": true, "reasons": []} if {
	count([answer | some answer in answers; answer.allow == true; count(answer.objections) == 0]) == count(answers)
} else := {"allow": false, "reasons": reasons} if {
	reasons := sort([reason | some answer in answers; some reason in answer.objections])
	count(reasons) > 0
} else := {"allow": false, "reasons": ["default_deny: no rule allowed this request"]}

# The batch entrypoint: many requests (input.requests) in one query, answers in
# the order asked, each what the single decision answers for that request.
decisions := decide_all(input.requests, realm_manifests)

# The call sits in the comprehension's body: regopy 1.5.2 drops the enclosing
# function's arguments from a call in the head ([decide(req, manifests) | ...]).
decide_all(requests, manifests) := [answer | some req in requests; answer := decide(req, manifests)]
