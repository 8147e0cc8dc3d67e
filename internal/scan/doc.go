// Package scan audits the TLS of a server the way an attacker would see it
// and grades it: raw probes for every protocol version and cipher suite,
// checks of the certificate, HTTP headers and known vulnerabilities, and a
// rating that follows the SSL Labs SSL Server Rating Guide.
//
// A scan runs in three steps that stay apart so each can be tested alone:
// the probes fill a Result, the vulnerability checks read the Result and add
// findings with their evidence, and Rate turns the Result into a Rating with
// every category score, cap and warning. The report writers (text, JSON,
// HTML) only print a Result.
package scan
