-- Argo CD health of the five ModelPlane kinds (modelplane.io: Dataset, TrainingRun, ModelVersion,
-- InferenceService, Rollout). Reads only status: observedGeneration, then the conditions the operator
-- writes (docs/gitops.md). Degraded = failed until the spec changes; Progressing = the operator is working
-- or waiting for something that will come; Suspended = paused on purpose; Healthy = Ready.
local DEGRADED = {
  Dataset = {ValidationFailed = true, JobFailed = true},
  TrainingRun = {
    JobFailed = true, DeadlineExceeded = true, AllTrialsFailed = true, ObjectiveNotLogged = true,
    RunNotRecorded = true, InvalidSpec = true, InvalidData = true, TrainingFailed = true,
    UnknownAccelerator = true,
  },
  ModelVersion = {
    DigestMismatch = true, InvalidModel = true, SignatureMismatch = true, InvalidSpec = true,
    GateFailed = true, SourceUnavailable = true, ControlPlaneError = true, JobError = true,
    JobFailed = true, DeadlineExceeded = true, VersionNotRecorded = true, DatasetVersionNotFound = true,
  },
  InferenceService = {
    ModelNamesDiffer = true, InvalidSpec = true, UnknownAccelerator = true,
    ProgressDeadlineExceeded = true, DeploymentUnavailable = true,
  },
  Rollout = {},
}

local hs = {status = "Progressing", message = "Waiting for the ModelPlane operator"}
if obj.status == nil then
  return hs
end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = {}
if obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    conditions[condition.type] = condition
  end
end
local function describe(condition)
  local text = condition.type .. " " .. condition.status
  if condition.reason ~= nil then
    text = text .. " (" .. condition.reason .. ")"
  end
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

-- Failed for good (kstatus' Stalled, or a final reason of the kind): only a spec change helps.
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
local final = DEGRADED[obj.kind] or {}
for _, kind in ipairs({"Ready", "Succeeded", "ModelResolved", "Validated", "Evaluated"}) do
  local condition = conditions[kind]
  if condition ~= nil and condition.status == "False" and final[condition.reason] then
    hs.status = "Degraded"
    hs.message = describe(condition)
    return hs
  end
end
local rolledBack = conditions["RolledBack"]
if rolledBack ~= nil and rolledBack.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(rolledBack)
  return hs
end

-- Paused on purpose: a suspended TrainingRun, a paused Rollout.
local paused = conditions["Paused"]
if (obj.spec ~= nil and obj.spec.suspend == true) or (paused ~= nil and paused.status == "True") then
  hs.status = "Suspended"
  hs.message = paused ~= nil and describe(paused) or "Suspended (spec.suspend)"
  return hs
end

if ready ~= nil then
  hs.message = describe(ready)
end
return hs
