package account

// Permission bits of User.permissionLevel, as the contract fixes them.
const (
	PermFree  = 1
	PermPaid  = 4
	PermAdmin = 2048

	// permAll is every bit a permission level may hold.
	permAll = PermFree | PermPaid | PermAdmin
)

// permissionNames are the API's names of the permission bits.
var permissionNames = map[int]string{PermFree: "FREE", PermPaid: "PAID", PermAdmin: "ADMIN"}

// IsAdmin reports whether level holds the ADMIN bit.
func IsAdmin(level int) bool { return level&PermAdmin != 0 }
