/* Where the mini-program finds its server: the same origin the organiser deployed
 * (whitelisted in the mini-program's admin console for request, socket and downloadFile). */
module.exports = {
  baseUrl: "https://huiliao.example.com",
};
