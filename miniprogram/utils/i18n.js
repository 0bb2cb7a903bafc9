/* The pages' words in zh-hans and en, picked from WeChat's own language. */
"use strict";

const STRINGS = {
  en: {
    joinByCode: "Join by code",
    codePlaceholder: "8 letters and digits",
    join: "Join",
    scan: "Scan a code",
    nearby: "Rooms nearby",
    nearbyNone: "No rooms near you right now.",
    myRooms: "My rooms",
    owned: "Rooms I run",
    entered: "Rooms I joined",
    create: "Create a room",
    name: "Room name",
    expires: "Expires",
    hours: "hours",
    venueOnly: "Only people near the venue may join",
    useLocation: "Use my location",
    pickLocation: "Pick on the map",
    send: "Send",
    sending: "Sending…",
    announcement: "Announcement",
    members: "Members",
    rename: "Name and picture",
    leave: "Leave",
    older: "Earlier messages",
    closed: "This room has ended. You can still read its history.",
    reconnecting: "Connection lost. Reconnecting…",
    organiser: "Organiser",
    moderator: "Moderator",
    nameTaken: "Someone in this room already uses this name.",
    chat: "Chat",
    questions: "Questions",
    liveQa: "Live Q&A",
    ask: "Ask",
    askPlaceholder: "Ask the speaker a question…",
    anonymous: "Anonymous",
    noQuestions: "No questions yet.",
    recall: "Recall",
    report: "Report",
    hide: "Hide from everyone",
    recalled: "A message was recalled.",
    done: "Done",
    mute: "Mute 10 min",
    manage: "Run the room",
    slowOn: "Slow mode: one message every 30 s",
    slowOff: "Slow mode off",
    broadcastOn: "Broadcast: only organisers post",
    broadcastOff: "Everyone may post",
    closeRoom: "Close the room",
    confirmClose: "Close “%(name)s”? Everyone's chat turns read-only at once.",
  },
  "zh-hans": {
    joinByCode: "输入房间码加入",
    codePlaceholder: "8 位字母或数字",
    join: "加入",
    scan: "扫码",
    nearby: "附近的房间",
    nearbyNone: "附近暂时没有房间。",
    myRooms: "我的房间",
    owned: "我创建的",
    entered: "我加入的",
    create: "创建房间",
    name: "房间名称",
    expires: "有效期",
    hours: "小时",
    venueOnly: "只允许会场附近的人加入",
    useLocation: "使用我的位置",
    pickLocation: "在地图上选择",
    send: "发送",
    sending: "发送中…",
    announcement: "公告",
    members: "成员",
    rename: "名字和头像",
    leave: "退出",
    older: "更早的消息",
    closed: "房间已结束，仍可查看聊天记录。",
    reconnecting: "连接中断，正在重连…",
    organiser: "组织者",
    moderator: "管理员",
    nameTaken: "房间里已经有人用这个名字了。",
    chat: "聊天",
    questions: "提问",
    liveQa: "问答进行中",
    ask: "提问",
    askPlaceholder: "向讲者提问…",
    anonymous: "匿名",
    noQuestions: "还没有问题。",
    recall: "撤回",
    report: "举报",
    hide: "对所有人隐藏",
    recalled: "一条消息已被撤回",
    done: "完成",
    mute: "禁言 10 分钟",
    manage: "管理房间",
    slowOn: "慢速模式：每 30 秒一条",
    slowOff: "关闭慢速模式",
    broadcastOn: "广播模式：仅组织者发言",
    broadcastOff: "所有人可发言",
    closeRoom: "关闭房间",
    confirmClose: "关闭“%(name)s”？所有人的聊天将立即变为只读。",
  },
};

/** @param {string | undefined} language WeChat's language ("zh_CN", "en"…) */
function stringsFor(language) {
  return (language || "").toLowerCase().startsWith("zh") ? STRINGS["zh-hans"] : STRINGS.en;
}

function wechatLanguage() {
  try {
    return wx.getAppBaseInfo().language;
  } catch (e) {
    return "zh_CN";
  }
}

function strings() {
  return stringsFor(wechatLanguage());
}

/** The server's name for WeChat's language (system notices are worded in it). */
function serverLanguage() {
  return wechatLanguage().toLowerCase().startsWith("zh") ? "zh-hans" : "en";
}

module.exports = { STRINGS, stringsFor, strings, serverLanguage };
