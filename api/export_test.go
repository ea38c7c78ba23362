package api

// RequireLicense and LicenseFrom let the external tests mount the license
// middleware on a test-only route.
var (
	RequireLicense = requireLicense
	LicenseFrom    = licenseFrom
)
