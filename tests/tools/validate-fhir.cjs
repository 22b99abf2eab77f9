// Validates FHIR R4 JSON files against the official FHIR R4 JSON schema, through the
// independent npm validator `@asymmetrik/fhir-json-schema-validator` (installed by
// scripts/setup.sh). Usage: node tests/tools/validate-fhir.cjs FILE...
// Prints each error and exits 1 when any file is invalid; the integration tests call it.
'use strict';
const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const validator = new JSONSchemaValidator();
let failed = false;
for (const file of process.argv.slice(2)) {
  const resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  const errors = validator.validate(resource);
  if (errors.length > 0) {
    failed = true;
    console.log(`${file}: ${errors.length} error(s)`);
    for (const e of errors.slice(0, 20)) {
      console.log(`  ${e.dataPath || e.instancePath || ''} ${e.message}`);
    }
  } else {
    console.log(`${file}: valid`);
  }
}
process.exit(failed ? 1 : 0);
