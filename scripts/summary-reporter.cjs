// Prints the closing line CI reads: "jest: N passed, N failed".
// Suites that fail to run (a syntax error, a throw in beforeAll) count as failures too.
module.exports = class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    process.stdout.write(`jest: ${results.numPassedTests} passed, ${failed} failed\n`);
  }
};
