package artifact_plane.authz.actions

test_all_is_read_write_and_audit if {
	all == (read | write) | audit
	count(read & write) == 0
	count((read | write) & audit) == 0
	count(all) == 10
}

test_retention_is_a_write if {
	"retention" in write
	"retention" in all
	not "retention" in read
}

test_export_is_judged_as_a_read if {
	"export" in read
	"export" in all
	not "export" in write
}

test_text_keeps_strings_and_marks_the_rest if {
	text("acme") == "acme"
	text(7) == "<invalid>"
	text(null) == "<invalid>"
}

test_refused_carries_one_reason if {
	refused("why") == {"allow": false, "objections": {"why"}}
	allowed.allow == true
	count(allowed.objections) == 0
}
