"""Every table, one module per table; import from here."""

from flashfusion.models.ai_cache_entry import AICacheEntry
from flashfusion.models.ai_credential import AICredential
from flashfusion.models.ai_generation import AIGeneration
from flashfusion.models.ai_settings import AISettings
from flashfusion.models.api_key import APIKey
from flashfusion.models.audit_event import ActorType, AuditEvent, Outcome
from flashfusion.models.audit_export import AuditExport, ExportStatus
from flashfusion.models.base import IDModel, Model, RecordModel, utc_now
from flashfusion.models.brand_voice import BrandVoice
from flashfusion.models.catalog_override import CatalogOverride
from flashfusion.models.channel_listing import ChannelListing, ListingState
from flashfusion.models.connector_breaker import BreakerState, ConnectorBreaker
from flashfusion.models.content_batch import (
    BatchItemStatus,
    BatchStatus,
    ContentBatch,
    ContentBatchItem,
)
from flashfusion.models.content_experiment import ContentExperiment
from flashfusion.models.content_fingerprint import ContentFingerprint, ContentFingerprintBand
from flashfusion.models.design import Design, DesignVersion
from flashfusion.models.external_event import ExternalEvent
from flashfusion.models.invitation import Invitation
from flashfusion.models.job import Job
from flashfusion.models.listing_copy import ListingCopy, ListingCopyStatus, ListingCopyVersion
from flashfusion.models.login_attempt import LoginAttempt
from flashfusion.models.media_asset import MediaAsset, MediaKind
from flashfusion.models.member import Member, Role
from flashfusion.models.oauth_state import OAuthState
from flashfusion.models.order import Order, OrderStatus
from flashfusion.models.order_line_item import OrderLineItem
from flashfusion.models.organization import Organization
from flashfusion.models.platform_connection import ConnectionStatus, PlatformConnection
from flashfusion.models.pricing_rule import PricingRule
from flashfusion.models.product import PriceSource, Product, ProductStatus, ProductVariant
from flashfusion.models.publish_intent import IntentAction, IntentState, PublishIntent
from flashfusion.models.recovery_code import RecoveryCode
from flashfusion.models.render import Render, RenderFile, RenderFileKind, RenderStatus
from flashfusion.models.safeguard_hold import SafeguardHold
from flashfusion.models.safeguard_override import SafeguardOverride
from flashfusion.models.safeguard_report import SafeguardReport, ScreenTrigger
from flashfusion.models.safeguard_settings import SafeguardSettings
from flashfusion.models.trademark_import import ImportKind, ImportStatus, TrademarkImport
from flashfusion.models.trademark_mark import TrademarkMark
from flashfusion.models.user import User
from flashfusion.models.user_session import SessionState, UserSession
from flashfusion.models.user_token import UserToken, UserTokenPurpose
from flashfusion.models.worker_heartbeat import WorkerHeartbeat

__all__ = [
    "AICacheEntry",
    "AICredential",
    "AIGeneration",
    "AISettings",
    "BrandVoice",
    "BatchItemStatus",
    "BatchStatus",
    "ContentBatch",
    "ContentBatchItem",
    "ContentExperiment",
    "ContentFingerprint",
    "ContentFingerprintBand",
    "ListingCopy",
    "ListingCopyStatus",
    "ListingCopyVersion",
    "APIKey",
    "ActorType",
    "AuditEvent",
    "AuditExport",
    "BreakerState",
    "CatalogOverride",
    "ChannelListing",
    "IntentAction",
    "IntentState",
    "ListingState",
    "PublishIntent",
    "ConnectorBreaker",
    "ConnectionStatus",
    "Design",
    "DesignVersion",
    "ExportStatus",
    "ExternalEvent",
    "IDModel",
    "Invitation",
    "Job",
    "LoginAttempt",
    "MediaAsset",
    "MediaKind",
    "Member",
    "Model",
    "OAuthState",
    "Order",
    "OrderLineItem",
    "OrderStatus",
    "Organization",
    "Outcome",
    "PlatformConnection",
    "PriceSource",
    "PricingRule",
    "Product",
    "ProductStatus",
    "ProductVariant",
    "RecordModel",
    "RecoveryCode",
    "Render",
    "RenderFile",
    "RenderFileKind",
    "RenderStatus",
    "Role",
    "SafeguardHold",
    "SafeguardOverride",
    "SafeguardReport",
    "SafeguardSettings",
    "ScreenTrigger",
    "SessionState",
    "ImportKind",
    "ImportStatus",
    "TrademarkImport",
    "TrademarkMark",
    "User",
    "UserSession",
    "UserToken",
    "UserTokenPurpose",
    "WorkerHeartbeat",
    "utc_now",
]
