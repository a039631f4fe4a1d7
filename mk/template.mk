# template.yaml: checks, build and deploy. Included by the main Makefile, which
# defines PYTHON313 (a working python3.13), VENV (the dev venv) and STAMP (the file
# that marks VENV as installed). Recipes run under /bin/sh.

CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# Offline: no Prisma Cloud mapping download, no version check.
CHECKOV_ENV := BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true
TEMPLATE := template.yaml

.PHONY: lint-template build deploy

# checkov pins boto3 and packaging against aws-sam-cli and pytest: its own venv.
$(CHECKOV_STAMP): requirements-checkov.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 is needed: see README" >&2; exit 1; }
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r requirements-checkov.txt
	touch $@

$(CHECKOV_VENV): $(CHECKOV_STAMP)

lint-template: $(STAMP) $(CHECKOV_STAMP) ## check template.yaml: sam validate --lint, cfn-lint, checkov
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-central-1} \
		$(VENV)/bin/sam validate --lint --template-file $(TEMPLATE)
	$(VENV)/bin/cfn-lint $(TEMPLATE)
	$(CHECKOV_ENV) $(CHECKOV) --file $(TEMPLATE) --framework cloudformation \
		--skip-download --quiet --compact

# sam build needs python3.13 on PATH to package for the python3.13 runtime: the dev
# venv provides it. No containers: pip fetches arm64 wheels for the target.
build: $(STAMP) ## sam build: function and layer into .aws-sam/build
	@# pip leaves these beside the package source; SAM would ship them in the layer.
	rm -rf layers/matrix42_token/build layers/matrix42_token/*.egg-info
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/sam build --template-file $(TEMPLATE)

deploy: build ## sam deploy --guided: asks for parameters, shows the change set
	$(VENV)/bin/sam deploy --guided
