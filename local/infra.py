"""Create template.yaml's tables, queues and topics on moto, so local runs match what is deployed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short tags (!Ref, !GetAtt, !Sub...)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)
    return data


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template.get("Resources", {}).items() if res.get("Type") == kind}


@dataclass
class Names:
    """Physical names given to the template's logical resources in one local or test environment."""

    prefix: str
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue url
    queue_arns: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic arn
    streams: dict[str, str] = field(default_factory=dict)  # table logical id -> stream arn
    keys: dict[str, str] = field(default_factory=dict)  # KMS key logical id -> key id
    secrets: dict[str, str] = field(default_factory=dict)  # Secrets Manager secret logical id -> ARN

    def table(self, logical_id: str) -> str:
        return self.tables[logical_id]


def _resolve(value: Any, names: Names, params: dict[str, Any]) -> Any:
    """Resolve the intrinsic functions that table/queue properties use (Ref to parameters and resources,
    GetAtt Arn, If on a few conditions is not needed for these properties)."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            if arg in params:
                return params[arg]
            if arg in _pseudo_parameters(names):
                return _pseudo_parameters(names)[arg]
            if arg in names.queues:
                return names.queues[arg]
            if arg in names.topics:
                return names.topics[arg]
            if arg in names.tables:
                return names.tables[arg]
            if arg in names.keys:
                return names.keys[arg]
            if arg in names.secrets:
                return names.secrets[arg]
            raise KeyError(f"cannot resolve Ref {arg}")
        if key == "Fn::GetAtt":
            logical, attr = arg
            if attr == "Arn" and logical in names.queue_arns:
                return names.queue_arns[logical]
            if attr == "StreamArn" and logical in names.streams:
                return names.streams[logical]
            raise KeyError(f"cannot resolve GetAtt {logical}.{attr}")
        if key == "Fn::If":
            return _resolve(arg[1], names, params)
        if key == "Fn::Sub":
            return _substitute(arg, names, params)
    if isinstance(value, dict):
        return {k: _resolve(v, names, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, names, params) for v in value]
    return value


_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def _pseudo_parameters(names: Names) -> dict[str, str]:
    """AWS pseudo parameters as a local environment sees them (the prefix plays the stack name)."""
    return {
        "AWS::StackName": names.prefix,
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
    }


def _substitute(arg: Any, names: Names, params: dict[str, Any]) -> str:
    """Fn::Sub over parameters, pseudo parameters and local resources; KeyError when a variable (a secret's
    dynamic reference, an attribute moto does not host) has no local value."""
    template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(_resolve(variables[name], names, params))
        if "." in name:
            logical, attr = name.split(".", 1)
            return str(_resolve({"Fn::GetAtt": [logical, attr]}, names, params))
        return str(_resolve({"Ref": name}, names, params))

    return _SUB_VARIABLE.sub(value_of, str(template))


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}


def table_create_kwargs(props: dict[str, Any], name: str) -> dict[str, Any]:
    """boto3 create_table arguments from an AWS::DynamoDB::Table's Properties."""
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            kwargs[key] = [
                {k: v for k, v in index.items() if k != "ContributorInsightsSpecification"}
                for index in props[key]
            ]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if "SSESpecification" in props:
        kwargs["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled", True))}
    return kwargs


def create_resources(
    session: Any,
    prefix: str,
    *,
    endpoint_url: str | None = None,
    template: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> Names:
    """Create every table, queue and topic of the template with names starting with `prefix`.

    `session` is a boto3 Session (credentials and region already set). Returns the physical names.
    """
    template = template or load_template()
    params = {**parameter_defaults(template), **(parameters or {})}
    names = Names(prefix=prefix)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    for logical, res in resources_of_type(template, "AWS::DynamoDB::Table").items():
        table_name = f"{prefix}-{logical}"
        names.tables[logical] = table_name
        props = _resolve(res["Properties"], names, params)
        description = dynamodb.create_table(**table_create_kwargs(props, table_name))["TableDescription"]
        if "LatestStreamArn" in description:
            names.streams[logical] = description["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    # dead-letter queues first: a redrive policy names its target's ARN
    ordered = sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}))
    for logical, res in ordered:
        props = res.get("Properties", {})
        fifo = bool(props.get("FifoQueue"))
        queue_name = f"{prefix}-{logical}" + (".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
        ):
            if key in props:
                attributes[key] = str(_resolve(props[key], names, params))
        if fifo:
            attributes["FifoQueue"] = "true"
        if "RedrivePolicy" in props:
            redrive = _resolve(props["RedrivePolicy"], names, params)
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": redrive["deadLetterTargetArn"],
                    "maxReceiveCount": int(redrive["maxReceiveCount"]),
                }
            )
        url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
        names.queues[logical] = url
        names.queue_arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    sns = session.client("sns", endpoint_url=endpoint_url)
    for logical in resources_of_type(template, "AWS::SNS::Topic"):
        names.topics[logical] = sns.create_topic(Name=f"{prefix}-{logical}")["TopicArn"]
    kms = session.client("kms", endpoint_url=endpoint_url)
    for logical in resources_of_type(template, "AWS::KMS::Key"):
        names.keys[logical] = ensure_key(kms, prefix, logical)
    secretsmanager = session.client("secretsmanager", endpoint_url=endpoint_url)
    for logical, res in resources_of_type(template, "AWS::SecretsManager::Secret").items():
        names.secrets[logical] = ensure_secret(secretsmanager, prefix, logical, res.get("Properties", {}))
    return names


def ensure_secret(secretsmanager: Any, prefix: str, logical: str, props: dict[str, Any]) -> str:
    """The ARN of the secret `<prefix>-<logical>`, created when it does not exist with the value its
    GenerateSecretString asks for (as CloudFormation would), so a stack reusing a moto keeps its key."""
    name = f"{prefix}-{logical}"
    try:
        return str(secretsmanager.describe_secret(SecretId=name)["ARN"])
    except secretsmanager.exceptions.ResourceNotFoundException:
        generate = props.get("GenerateSecretString", {})
        options = {k: v for k, v in generate.items() if k in _PASSWORD_OPTIONS}
        value = secretsmanager.get_random_password(**options)["RandomPassword"]
        return str(secretsmanager.create_secret(Name=name, SecretString=value)["ARN"])


_PASSWORD_OPTIONS = frozenset(
    {
        "PasswordLength",
        "ExcludeCharacters",
        "ExcludeNumbers",
        "ExcludePunctuation",
        "ExcludeUppercase",
        "ExcludeLowercase",
        "IncludeSpace",
        "RequireEachIncludedType",
    }
)


def ensure_key(kms: Any, prefix: str, logical: str) -> str:
    """The id of the KMS key `alias/<prefix>-<logical>`, created (with its alias) when it does not exist, so
    a stack reusing a moto finds the keys an earlier one made."""
    alias = f"alias/{prefix}-{logical}"
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"])
    except kms.exceptions.NotFoundException:
        key_id = str(kms.create_key(Description=f"{prefix}-{logical}")["KeyMetadata"]["KeyId"])
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        return key_id


def function_environment(
    names: Names,
    function_logical_id: str,
    template: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The environment variables the template gives a function (Globals merged), resolved to local names."""
    template = template or load_template()
    params = {**parameter_defaults(template), **(parameters or {})}
    env: dict[str, Any] = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    fn = template["Resources"][function_logical_id]["Properties"]
    env.update(fn.get("Environment", {}).get("Variables", {}))
    resolved: dict[str, str] = {}
    for key, value in env.items():
        try:
            resolved[key] = str(_resolve(value, names, params))
        except KeyError:
            continue  # a value only AWS can give (an ARN of a resource moto does not host): leave it unset
    return resolved
